// Engine API container types (moby api/swagger.yaml, API 1.41–1.50). Field names are the wire names.
// Optional fields are those a daemon may omit or that older API versions lack.

export interface Port {
  IP?: string;
  PrivatePort: number;
  PublicPort?: number;
  Type: 'tcp' | 'udp' | 'sctp' | string;
}

export interface MountPoint {
  Type: 'bind' | 'volume' | 'tmpfs' | 'npipe' | 'cluster' | 'image' | string;
  Name?: string;
  Source: string;
  Destination: string;
  Driver?: string;
  Mode: string;
  RW: boolean;
  Propagation: string;
}

export interface EndpointIPAMConfig {
  IPv4Address?: string;
  IPv6Address?: string;
  LinkLocalIPs?: string[];
}

export interface EndpointSettings {
  IPAMConfig?: EndpointIPAMConfig | null;
  Links?: string[] | null;
  MacAddress?: string;
  Aliases?: string[] | null;
  DriverOpts?: Record<string, string> | null;
  GwPriority?: number;
  NetworkID?: string;
  EndpointID?: string;
  Gateway?: string;
  IPAddress?: string;
  IPPrefixLen?: number;
  IPv6Gateway?: string;
  GlobalIPv6Address?: string;
  GlobalIPv6PrefixLen?: number;
  DNSNames?: string[] | null;
}

export interface ContainerSummary {
  Id: string;
  Names: string[];
  Image: string;
  ImageID: string;
  ImageManifestDescriptor?: unknown;
  Command: string;
  Created: number;
  Ports: Port[];
  SizeRw?: number;
  SizeRootFs?: number;
  Labels: Record<string, string> | null;
  State: ContainerStateName;
  Status: string;
  HostConfig: { NetworkMode: string; Annotations?: Record<string, string> };
  NetworkSettings: { Networks: Record<string, EndpointSettings> } | null;
  Mounts: MountPoint[];
}

export type ContainerStateName = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

export interface HealthcheckResult {
  Start: string;
  End: string;
  ExitCode: number;
  Output: string;
}

export interface Health {
  Status: 'none' | 'starting' | 'healthy' | 'unhealthy';
  FailingStreak: number;
  Log: HealthcheckResult[] | null;
}

export interface ContainerState {
  Status: ContainerStateName;
  Running: boolean;
  Paused: boolean;
  Restarting: boolean;
  OOMKilled: boolean;
  Dead: boolean;
  Pid: number;
  ExitCode: number;
  Error: string;
  StartedAt: string;
  FinishedAt: string;
  Health?: Health;
}

export interface HealthConfig {
  Test?: string[];
  Interval?: number;
  Timeout?: number;
  Retries?: number;
  StartPeriod?: number;
  StartInterval?: number;
}

/** The portable part of a container's configuration (also an image's `Config`). */
export interface ContainerConfig {
  Hostname?: string;
  Domainname?: string;
  User?: string;
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  ExposedPorts?: Record<string, object> | null;
  Tty?: boolean;
  OpenStdin?: boolean;
  StdinOnce?: boolean;
  Env?: string[] | null;
  Cmd?: string[] | null;
  Healthcheck?: HealthConfig;
  ArgsEscaped?: boolean | null;
  Image?: string;
  Volumes?: Record<string, object> | null;
  WorkingDir?: string;
  Entrypoint?: string[] | null;
  NetworkDisabled?: boolean | null;
  MacAddress?: string | null;
  OnBuild?: string[] | null;
  Labels?: Record<string, string> | null;
  StopSignal?: string | null;
  StopTimeout?: number | null;
  Shell?: string[] | null;
}

export interface PortBinding {
  HostIp?: string;
  HostPort?: string;
}
export type PortMap = Record<string, PortBinding[] | null>;

export interface RestartPolicy {
  Name: '' | 'no' | 'always' | 'unless-stopped' | 'on-failure' | string;
  MaximumRetryCount?: number;
}

export interface DeviceMapping {
  PathOnHost: string;
  PathInContainer: string;
  CgroupPermissions: string;
}

export interface Ulimit {
  Name: string;
  Soft: number;
  Hard: number;
}

export interface Mount {
  Target: string;
  Source?: string;
  Type: 'bind' | 'volume' | 'tmpfs' | 'npipe' | 'cluster' | 'image' | string;
  ReadOnly?: boolean;
  Consistency?: string;
  BindOptions?: { Propagation?: string; NonRecursive?: boolean; CreateMountpoint?: boolean; ReadOnlyNonRecursive?: boolean };
  VolumeOptions?: {
    NoCopy?: boolean;
    Labels?: Record<string, string>;
    DriverConfig?: { Name?: string; Options?: Record<string, string> };
    Subpath?: string;
  };
  TmpfsOptions?: { SizeBytes?: number; Mode?: number; Options?: string[][] };
}

/** Resource limits (part of HostConfig, and the body of `POST /containers/{id}/update`). */
export interface Resources {
  CpuShares?: number;
  Memory?: number;
  CgroupParent?: string;
  BlkioWeight?: number;
  BlkioWeightDevice?: Array<{ Path: string; Weight: number }> | null;
  BlkioDeviceReadBps?: Array<{ Path: string; Rate: number }> | null;
  BlkioDeviceWriteBps?: Array<{ Path: string; Rate: number }> | null;
  BlkioDeviceReadIOps?: Array<{ Path: string; Rate: number }> | null;
  BlkioDeviceWriteIOps?: Array<{ Path: string; Rate: number }> | null;
  CpuPeriod?: number;
  CpuQuota?: number;
  CpuRealtimePeriod?: number;
  CpuRealtimeRuntime?: number;
  CpusetCpus?: string;
  CpusetMems?: string;
  Devices?: DeviceMapping[] | null;
  DeviceCgroupRules?: string[] | null;
  DeviceRequests?: unknown[] | null;
  KernelMemoryTCP?: number;
  MemoryReservation?: number;
  MemorySwap?: number;
  MemorySwappiness?: number | null;
  NanoCpus?: number;
  OomKillDisable?: boolean | null;
  Init?: boolean | null;
  PidsLimit?: number | null;
  Ulimits?: Ulimit[] | null;
}

export interface LogConfig {
  Type: string;
  Config?: Record<string, string>;
}

export interface HostConfig extends Resources {
  Binds?: string[] | null;
  ContainerIDFile?: string;
  LogConfig?: LogConfig;
  NetworkMode?: string;
  PortBindings?: PortMap | null;
  RestartPolicy?: RestartPolicy;
  AutoRemove?: boolean;
  VolumeDriver?: string;
  VolumesFrom?: string[] | null;
  Mounts?: Mount[] | null;
  ConsoleSize?: [number, number] | null;
  Annotations?: Record<string, string> | null;
  CapAdd?: string[] | null;
  CapDrop?: string[] | null;
  CgroupnsMode?: 'private' | 'host' | '';
  Dns?: string[] | null;
  DnsOptions?: string[] | null;
  DnsSearch?: string[] | null;
  ExtraHosts?: string[] | null;
  GroupAdd?: string[] | null;
  IpcMode?: string;
  Cgroup?: string;
  Links?: string[] | null;
  OomScoreAdj?: number;
  PidMode?: string;
  Privileged?: boolean;
  PublishAllPorts?: boolean;
  ReadonlyRootfs?: boolean;
  SecurityOpt?: string[] | null;
  StorageOpt?: Record<string, string> | null;
  Tmpfs?: Record<string, string> | null;
  UTSMode?: string;
  UsernsMode?: string;
  ShmSize?: number;
  Sysctls?: Record<string, string> | null;
  Runtime?: string;
  Isolation?: string;
  MaskedPaths?: string[] | null;
  ReadonlyPaths?: string[] | null;
}

export interface NetworkingConfig {
  EndpointsConfig?: Record<string, EndpointSettings>;
}

/** Body of `POST /containers/create`. */
export interface ContainerCreateRequest extends ContainerConfig {
  HostConfig?: HostConfig;
  NetworkingConfig?: NetworkingConfig;
}

export interface ContainerCreateResponse {
  Id: string;
  Warnings: string[] | null;
}

export interface NetworkSettings {
  Bridge?: string;
  SandboxID: string;
  HairpinMode?: boolean;
  LinkLocalIPv6Address?: string;
  LinkLocalIPv6PrefixLen?: number;
  Ports: PortMap | null;
  SandboxKey: string;
  SecondaryIPAddresses?: unknown;
  SecondaryIPv6Addresses?: unknown;
  EndpointID?: string;
  Gateway?: string;
  GlobalIPv6Address?: string;
  GlobalIPv6PrefixLen?: number;
  IPAddress?: string;
  IPPrefixLen?: number;
  IPv6Gateway?: string;
  MacAddress?: string;
  Networks: Record<string, EndpointSettings>;
}

export interface GraphDriverData {
  Name: string;
  Data: Record<string, string> | null;
}

/** `GET /containers/{id}/json` */
export interface ContainerInspect {
  Id: string;
  Created: string;
  Path: string;
  Args: string[];
  State: ContainerState;
  Image: string;
  ResolvConfPath: string;
  HostnamePath: string;
  HostsPath: string;
  LogPath: string;
  Name: string;
  RestartCount: number;
  Driver: string;
  Platform: string;
  ImageManifestDescriptor?: unknown;
  MountLabel: string;
  ProcessLabel: string;
  AppArmorProfile: string;
  ExecIDs: string[] | null;
  HostConfig: HostConfig;
  GraphDriver: GraphDriverData;
  SizeRw?: number;
  SizeRootFs?: number;
  Mounts: MountPoint[];
  Config: ContainerConfig;
  NetworkSettings: NetworkSettings;
}

export interface ContainerWaitResponse {
  StatusCode: number;
  Error?: { Message: string } | null;
}

export interface ContainerTopResponse {
  Titles: string[];
  Processes: string[][];
}

/** `GET /containers/{id}/changes`: Kind 0 = modified, 1 = added, 2 = deleted. */
export interface ContainerChange {
  Path: string;
  Kind: 0 | 1 | 2;
}

export interface ContainerUpdateResponse {
  Warnings: string[] | null;
}

export interface ContainerPruneResponse {
  ContainersDeleted: string[] | null;
  SpaceReclaimed: number;
}

/** The `X-Docker-Container-Path-Stat` header of the archive endpoints (base64 JSON). */
export interface ContainerPathStat {
  name: string;
  size: number;
  mode: number;
  mtime: string;
  linkTarget: string;
}

export interface CpuUsage {
  total_usage: number;
  percpu_usage?: number[] | null;
  usage_in_kernelmode: number;
  usage_in_usermode: number;
}

export interface CpuStats {
  cpu_usage: CpuUsage;
  system_cpu_usage?: number;
  online_cpus?: number;
  throttling_data?: { periods: number; throttled_periods: number; throttled_time: number };
}

export interface BlkioStatEntry {
  major: number;
  minor: number;
  op: string;
  value: number;
}

/** One sample of `GET /containers/{id}/stats`. */
export interface ContainerStats {
  id?: string;
  name?: string;
  read: string;
  preread: string;
  pids_stats?: { current?: number; limit?: number };
  blkio_stats?: {
    io_service_bytes_recursive?: BlkioStatEntry[] | null;
    io_serviced_recursive?: BlkioStatEntry[] | null;
  };
  num_procs?: number;
  cpu_stats: CpuStats;
  precpu_stats: CpuStats;
  memory_stats: {
    usage?: number;
    max_usage?: number;
    stats?: Record<string, number>;
    failcnt?: number;
    limit?: number;
    commitbytes?: number;
    commitpeakbytes?: number;
    privateworkingset?: number;
  };
  networks?: Record<string, {
    rx_bytes: number; rx_packets: number; rx_errors: number; rx_dropped: number;
    tx_bytes: number; tx_packets: number; tx_errors: number; tx_dropped: number;
  }>;
}
