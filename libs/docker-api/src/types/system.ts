// Engine API system types: ping, version, info, auth, events, disk usage.
import type { ContainerSummary } from './container.ts';
import type { ImageSummary } from './image.ts';
import type { Volume } from './volume.ts';

/** What `/_ping` tells a client in its headers. */
export interface PingInfo {
  apiVersion: string;
  osType: string;
  experimental: boolean;
  builderVersion: string;
  server: string;
}

export interface ComponentVersion {
  Name: string;
  Version: string;
  Details?: Record<string, string>;
}

export interface SystemVersion {
  Platform?: { Name: string };
  Components?: ComponentVersion[];
  Version: string;
  ApiVersion: string;
  MinAPIVersion: string;
  GitCommit: string;
  GoVersion: string;
  Os: string;
  Arch: string;
  KernelVersion: string;
  Experimental?: boolean;
  BuildTime?: string;
}

export interface SystemInfo {
  ID: string;
  Containers: number;
  ContainersRunning: number;
  ContainersPaused: number;
  ContainersStopped: number;
  Images: number;
  Driver: string;
  DriverStatus: Array<[string, string]> | null;
  DockerRootDir: string;
  Plugins: { Volume: string[] | null; Network: string[] | null; Authorization: string[] | null; Log: string[] | null };
  MemoryLimit: boolean;
  SwapLimit: boolean;
  KernelMemoryTCP?: boolean;
  CpuCfsPeriod: boolean;
  CpuCfsQuota: boolean;
  CPUShares: boolean;
  CPUSet: boolean;
  PidsLimit: boolean;
  OomKillDisable: boolean;
  IPv4Forwarding: boolean;
  BridgeNfIptables?: boolean;
  BridgeNfIp6tables?: boolean;
  Debug: boolean;
  NFd: number;
  NGoroutines: number;
  SystemTime: string;
  LoggingDriver: string;
  CgroupDriver: string;
  CgroupVersion: string;
  NEventsListener: number;
  KernelVersion: string;
  OperatingSystem: string;
  OSVersion: string;
  OSType: string;
  Architecture: string;
  NCPU: number;
  MemTotal: number;
  IndexServerAddress: string;
  RegistryConfig: {
    InsecureRegistryCIDRs?: string[] | null;
    IndexConfigs?: Record<string, { Name: string; Mirrors: string[] | null; Secure: boolean; Official: boolean }>;
    Mirrors?: string[] | null;
  } | null;
  GenericResources: unknown[] | null;
  HttpProxy: string;
  HttpsProxy: string;
  NoProxy: string;
  Name: string;
  Labels: string[] | null;
  ExperimentalBuild: boolean;
  ServerVersion: string;
  Runtimes: Record<string, { path?: string; runtimeArgs?: string[] }>;
  DefaultRuntime: string;
  Swarm: { NodeID: string; NodeAddr: string; LocalNodeState: string; ControlAvailable: boolean; Error: string; RemoteManagers: unknown };
  LiveRestoreEnabled: boolean;
  Isolation: string;
  InitBinary: string;
  ContainerdCommit: { ID: string; Expected?: string };
  RuncCommit: { ID: string; Expected?: string };
  InitCommit: { ID: string; Expected?: string };
  SecurityOptions: string[] | null;
  ProductLicense?: string;
  DefaultAddressPools?: Array<{ Base: string; Size: number }>;
  Warnings: string[] | null;
  CDISpecDirs?: string[];
  Containerd?: { Address: string; Namespaces: { Containers: string; Plugins: string } };
}

/** Registry credentials, as sent to `/auth` and (base64 JSON) in `X-Registry-Auth`. */
export interface AuthConfig {
  username?: string;
  password?: string;
  auth?: string;
  email?: string;
  serveraddress?: string;
  identitytoken?: string;
  registrytoken?: string;
}

export interface AuthResponse {
  Status: string;
  IdentityToken?: string;
}

/** One event of `GET /events`. */
export interface EventMessage {
  Type: 'builder' | 'config' | 'container' | 'daemon' | 'image' | 'network' | 'node' | 'plugin' | 'secret' | 'service' | 'volume' | string;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope?: 'local' | 'swarm';
  time: number;
  timeNano: number;
  /** Deprecated fields still sent by daemons. */
  status?: string;
  id?: string;
  from?: string;
}

export interface BuildCacheRecord {
  ID: string;
  Parent?: string;
  Parents?: string[];
  Type: string;
  Description: string;
  InUse: boolean;
  Shared: boolean;
  Size: number;
  CreatedAt: string;
  LastUsedAt: string | null;
  UsageCount: number;
}

/** `GET /system/df` */
export interface SystemDataUsage {
  LayersSize: number;
  Images: ImageSummary[] | null;
  Containers: ContainerSummary[] | null;
  Volumes: Volume[] | null;
  BuildCache: BuildCacheRecord[] | null;
}
