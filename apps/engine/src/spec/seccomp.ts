/**
 * berth's default seccomp profile, in the spirit of Docker's: an allowlist. Anything not listed fails with
 * EPERM. System calls that need a capability Docker does not grant by default are allowed only when the
 * container has that capability (so `--cap-add SYS_ADMIN` makes `mount` usable, as with Docker). Namespace
 * creation through clone/unshare is refused without CAP_SYS_ADMIN; clone3 answers ENOSYS so that libcs fall
 * back to clone, whose flags can be inspected.
 */
import type { LinuxSeccomp, LinuxSyscall } from '@berth/oci';

/** Always allowed: files, memory, processes, signals, time, sockets, IPC, polling — ordinary programs. */
const BASE_SYSCALLS = [
  // files and directories
  'access', 'faccessat', 'faccessat2', 'chdir', 'fchdir', 'getcwd', 'chmod', 'fchmod', 'fchmodat', 'fchmodat2',
  'chown', 'chown32', 'fchown', 'fchown32', 'fchownat', 'lchown', 'lchown32', 'close', 'close_range', 'creat',
  'dup', 'dup2', 'dup3', 'fadvise64', 'fadvise64_64', 'fallocate', 'fcntl', 'fcntl64', 'fdatasync', 'fsync',
  'syncfs', 'sync', 'sync_file_range', 'sync_file_range2', 'flock', 'fstat', 'fstat64', 'fstatat64', 'newfstatat',
  'stat', 'stat64', 'lstat', 'lstat64', 'statx', 'fstatfs', 'fstatfs64', 'statfs', 'statfs64', 'ftruncate',
  'ftruncate64', 'truncate', 'truncate64', 'getdents', 'getdents64', 'link', 'linkat', 'symlink', 'symlinkat',
  'unlink', 'unlinkat', 'mkdir', 'mkdirat', 'mknod', 'mknodat', 'rmdir', 'rename', 'renameat', 'renameat2',
  'open', 'openat', 'openat2', 'name_to_handle_at', 'read', 'readv', 'pread64', 'preadv', 'preadv2', 'readahead',
  'readlink', 'readlinkat', 'write', 'writev', 'pwrite64', 'pwritev', 'pwritev2', 'lseek', '_llseek', 'sendfile',
  'sendfile64', 'copy_file_range', 'splice', 'tee', 'vmsplice', 'umask', 'utime', 'utimes', 'utimensat',
  'utimensat_time64', 'futimesat', 'getxattr', 'lgetxattr', 'fgetxattr', 'setxattr', 'lsetxattr', 'fsetxattr',
  'listxattr', 'llistxattr', 'flistxattr', 'removexattr', 'lremovexattr', 'fremovexattr', 'inotify_init',
  'inotify_init1', 'inotify_add_watch', 'inotify_rm_watch', 'fanotify_mark', 'memfd_create', 'memfd_secret',
  'ioctl', 'chroot',
  // memory
  'brk', 'mmap', 'mmap2', 'munmap', 'mremap', 'mprotect', 'madvise', 'mincore', 'msync', 'mlock', 'mlock2',
  'mlockall', 'munlock', 'munlockall', 'remap_file_pages', 'membarrier', 'pkey_alloc', 'pkey_free',
  'pkey_mprotect', 'map_shadow_stack', 'cachestat',
  // processes and threads
  'execve', 'execveat', 'exit', 'exit_group', 'fork', 'vfork', 'wait4', 'waitid', 'waitpid', 'getpid', 'getppid',
  'gettid', 'getpgid', 'setpgid', 'getpgrp', 'getsid', 'setsid', 'getuid', 'getuid32', 'geteuid', 'geteuid32',
  'getgid', 'getgid32', 'getegid', 'getegid32', 'getresuid', 'getresuid32', 'getresgid', 'getresgid32',
  'getgroups', 'getgroups32', 'setuid', 'setuid32', 'setgid', 'setgid32', 'setreuid', 'setreuid32', 'setregid',
  'setregid32', 'setresuid', 'setresuid32', 'setresgid', 'setresgid32', 'setfsuid', 'setfsuid32', 'setfsgid',
  'setfsgid32', 'setgroups', 'setgroups32', 'capget', 'capset', 'prctl', 'arch_prctl', 'set_tid_address',
  'set_thread_area', 'get_thread_area', 'set_robust_list', 'get_robust_list', 'rseq', 'futex', 'futex_time64',
  'futex_waitv', 'futex_wake', 'futex_wait', 'futex_requeue', 'getpriority', 'setpriority', 'getrlimit',
  'setrlimit', 'ugetrlimit', 'prlimit64', 'getrusage', 'times', 'sched_yield', 'sched_getaffinity',
  'sched_setaffinity', 'sched_getattr', 'sched_setattr', 'sched_getparam', 'sched_setparam', 'sched_getscheduler',
  'sched_setscheduler', 'sched_get_priority_max', 'sched_get_priority_min', 'sched_rr_get_interval',
  'sched_rr_get_interval_time64', 'ioprio_get', 'ioprio_set', 'getcpu', 'seccomp', 'pidfd_open',
  'pidfd_send_signal', 'process_mrelease', 'uname', 'sysinfo', 'getrandom', 'restart_syscall', 'pause',
  'landlock_create_ruleset', 'landlock_add_rule', 'landlock_restrict_self', 'ptrace', 'kcmp', 'process_vm_readv',
  'process_vm_writev',
  // signals
  'kill', 'tkill', 'tgkill', 'rt_sigaction', 'rt_sigpending', 'rt_sigprocmask', 'rt_sigqueueinfo',
  'rt_tgsigqueueinfo', 'rt_sigreturn', 'rt_sigsuspend', 'rt_sigtimedwait', 'rt_sigtimedwait_time64', 'sigaltstack',
  'signalfd', 'signalfd4', 'sigprocmask', 'sigreturn',
  // time and timers
  'alarm', 'getitimer', 'setitimer', 'gettimeofday', 'time', 'clock_gettime', 'clock_gettime64', 'clock_getres',
  'clock_getres_time64', 'clock_nanosleep', 'clock_nanosleep_time64', 'nanosleep', 'timer_create', 'timer_delete',
  'timer_getoverrun', 'timer_gettime', 'timer_gettime64', 'timer_settime', 'timer_settime64', 'timerfd_create',
  'timerfd_gettime', 'timerfd_gettime64', 'timerfd_settime', 'timerfd_settime64', 'adjtimex', 'clock_adjtime',
  'clock_adjtime64',
  // polling and events
  'poll', 'ppoll', 'ppoll_time64', 'select', '_newselect', 'pselect6', 'pselect6_time64', 'epoll_create',
  'epoll_create1', 'epoll_ctl', 'epoll_ctl_old', 'epoll_wait', 'epoll_wait_old', 'epoll_pwait', 'epoll_pwait2',
  'eventfd', 'eventfd2', 'pipe', 'pipe2', 'io_setup', 'io_destroy', 'io_submit', 'io_cancel', 'io_getevents',
  'io_pgetevents', 'io_pgetevents_time64',
  // sockets (socket(2) itself is below, without AF_VSOCK)
  'accept', 'accept4', 'bind', 'connect', 'listen', 'getpeername', 'getsockname', 'getsockopt', 'setsockopt',
  'recv', 'recvfrom', 'recvmsg', 'recvmmsg', 'recvmmsg_time64', 'send', 'sendto', 'sendmsg', 'sendmmsg',
  'shutdown', 'socketpair', 'socketcall',
  // System V and POSIX IPC
  'ipc', 'msgctl', 'msgget', 'msgrcv', 'msgsnd', 'semctl', 'semget', 'semop', 'semtimedop', 'semtimedop_time64',
  'shmat', 'shmctl', 'shmdt', 'shmget', 'mq_open', 'mq_unlink', 'mq_getsetattr', 'mq_notify', 'mq_timedreceive',
  'mq_timedreceive_time64', 'mq_timedsend', 'mq_timedsend_time64',
];

/** Allowed only with a capability (the capability Docker's profile ties them to). */
const BY_CAPABILITY: Record<string, string[]> = {
  CAP_SYS_ADMIN: [
    'mount', 'umount', 'umount2', 'pivot_root', 'setns', 'unshare', 'clone3', 'sethostname', 'setdomainname',
    'bpf', 'perf_event_open', 'fanotify_init', 'lookup_dcookie', 'quotactl', 'quotactl_fd', 'open_tree',
    'move_mount', 'fsopen', 'fsconfig', 'fsmount', 'fspick', 'mount_setattr', 'name_to_handle_at', 'syslog',
  ],
  CAP_SYS_BOOT: ['reboot', 'kexec_load', 'kexec_file_load'],
  CAP_SYS_MODULE: ['init_module', 'finit_module', 'delete_module'],
  CAP_SYS_PACCT: ['acct'],
  CAP_SYS_PTRACE: ['pidfd_getfd', 'userfaultfd'],
  CAP_SYS_RAWIO: ['iopl', 'ioperm'],
  CAP_SYS_TIME: ['settimeofday', 'stime', 'clock_settime', 'clock_settime64'],
  CAP_SYS_TTY_CONFIG: ['vhangup'],
  CAP_SYS_NICE: ['get_mempolicy', 'mbind', 'set_mempolicy', 'set_mempolicy_home_node', 'move_pages', 'migrate_pages'],
  CAP_SYSLOG: ['syslog'],
  CAP_DAC_READ_SEARCH: ['open_by_handle_at'],
  CAP_BPF: ['bpf'],
  CAP_PERFMON: ['perf_event_open'],
};

/** Namespace flags of clone(2): NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET|NEWTIME. */
const CLONE_NS_FLAGS = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000 | 0x00000080;
const AF_VSOCK = 40;
const EPERM = 1;
const ENOSYS = 38;

/** The default profile for a container with these (effective) capabilities. */
export function defaultSeccompProfile(capabilities: readonly string[]): LinuxSeccomp {
  const caps = new Set(capabilities);
  const allowed = new Set(BASE_SYSCALLS);
  for (const [cap, calls] of Object.entries(BY_CAPABILITY)) {
    if (caps.has(cap)) for (const c of calls) allowed.add(c);
  }
  const syscalls: LinuxSyscall[] = [{ names: [...allowed].sort(), action: 'SCMP_ACT_ALLOW' }];
  // socket(2): every family but AF_VSOCK (host/guest sockets).
  syscalls.push({ names: ['socket'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: AF_VSOCK, op: 'SCMP_CMP_NE' }] });
  // personality(2): the harmless personas (PER_LINUX, UNAME26, PER_LINUX32, their combination, and the query).
  for (const persona of [0x0, 0x8, 0x20000, 0x20008, 0xffffffff]) {
    syscalls.push({ names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: persona, op: 'SCMP_CMP_EQ' }] });
  }
  if (caps.has('CAP_SYS_ADMIN')) {
    syscalls.push({ names: ['clone'], action: 'SCMP_ACT_ALLOW' });
  } else {
    // clone(2) without namespace flags (x86_64 passes flags in the first argument).
    syscalls.push({
      names: ['clone'], action: 'SCMP_ACT_ALLOW',
      args: [{ index: 0, value: CLONE_NS_FLAGS, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
    });
    // clone3 passes its flags in memory, which seccomp cannot read: make libcs fall back to clone.
    syscalls.push({ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS });
  }
  return {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: EPERM,
    architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
    syscalls,
  };
}

/** Docker's seccomp profile file format (`--security-opt seccomp=file.json`) → the runtime spec's shape. */
export function profileFromDockerJson(json: unknown, capabilities: readonly string[]): LinuxSeccomp {
  const p = json as {
    defaultAction?: string; defaultErrnoRet?: number; architectures?: string[];
    archMap?: { architecture: string; subArchitectures?: string[] }[];
    syscalls?: { names?: string[]; name?: string; action: string; errnoRet?: number; args?: LinuxSyscall['args'];
      includes?: { caps?: string[] }; excludes?: { caps?: string[] }; }[];
    flags?: string[];
  };
  if (!p || typeof p !== 'object' || typeof p.defaultAction !== 'string') {
    throw new Error('the seccomp profile has no defaultAction');
  }
  const caps = new Set(capabilities);
  const architectures = p.architectures
    ?? (p.archMap ?? []).filter((a) => a.architecture === 'SCMP_ARCH_X86_64').flatMap((a) => [a.architecture, ...(a.subArchitectures ?? [])]);
  const syscalls: LinuxSyscall[] = [];
  for (const s of p.syscalls ?? []) {
    if (s.includes?.caps && !s.includes.caps.every((c) => caps.has(c))) continue;
    if (s.excludes?.caps && s.excludes.caps.some((c) => caps.has(c))) continue;
    const names = s.names ?? (s.name ? [s.name] : []);
    if (names.length === 0) continue;
    syscalls.push({
      names, action: s.action as LinuxSyscall['action'],
      ...(s.errnoRet !== undefined ? { errnoRet: s.errnoRet } : {}),
      ...(s.args && s.args.length > 0 ? { args: s.args } : {}),
    });
  }
  return {
    defaultAction: p.defaultAction as LinuxSeccomp['defaultAction'],
    ...(p.defaultErrnoRet !== undefined ? { defaultErrnoRet: p.defaultErrnoRet } : {}),
    ...(architectures.length > 0 ? { architectures } : {}),
    ...(p.flags ? { flags: p.flags } : {}),
    syscalls,
  };
}
