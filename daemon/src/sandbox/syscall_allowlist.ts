// The system calls the confined daemon may make: those `strace -f` saw it make after pivot_root
// while serving the daemon's FUSE, vhost-user and DAX tests, and (checked with --seccomp=log) a
// real guest's boot, file workload and overlay (e2e/daemon_guest); plus those of paths the traces
// did not take: thread and process exit, signal return, Node timers and seeding, a new export's
// socket, and the fallbacks of older kernels and libcs (clone, faccessat, the non-*at xattr
// calls). Building the sandbox (mount, pivot_root, capset) happens before the filter.
export const SYSCALL_ALLOWLIST: readonly string[] = [
  // Memory, threads and signals: V8, libuv and device Workers.
  'mmap', 'munmap', 'mprotect', 'madvise', 'mremap', 'brk',
  'futex', 'set_robust_list', 'rseq', 'clone', 'clone3', 'sched_getaffinity', 'sched_yield',
  'rt_sigaction', 'rt_sigprocmask', 'rt_sigreturn', 'sigaltstack',
  'exit', 'exit_group',
  'nanosleep', 'clock_nanosleep', 'clock_gettime', 'gettimeofday', 'getrandom',
  'getpid', 'gettid', 'getuid', 'geteuid', 'getgid', 'getegid', 'capget', 'uname', 'getcwd', 'umask', 'readlink',
  // Event loops: epoll, eventfds, pipes; poll in sys/poll.ts.
  'epoll_create1', 'epoll_ctl', 'epoll_wait', 'epoll_pwait', 'eventfd2', 'pipe2', 'poll',
  // vhost-user and control sockets (a new export's socket is made after the filter is on).
  'socket', 'bind', 'listen', 'accept4', 'recvmsg', 'sendmsg', 'setsockopt', 'shutdown',
  // The passthrough file system.
  'read', 'write', 'readv', 'writev', 'pread64', 'pwrite64', 'preadv', 'pwritev', 'preadv2', 'pwritev2',
  'close', 'openat', 'openat2', 'fcntl', 'flock', 'lseek', 'fallocate', 'ftruncate', 'copy_file_range',
  'fsync', 'fdatasync', 'syncfs', 'fstat', 'newfstatat', 'statx', 'fstatfs', 'getdents64',
  'faccessat', 'faccessat2', 'fchmod', 'fchmodat', 'fchownat', 'utimensat',
  'mkdirat', 'mknodat', 'symlinkat', 'linkat', 'readlinkat', 'renameat', 'renameat2', 'unlinkat', 'unlink',
  'setfsuid', 'setfsgid', 'chmod',
  // xattrs: the *xattrat calls (Linux 6.13), else the fd and /proc/self/fd path calls.
  'setxattrat', 'getxattrat', 'listxattrat', 'removexattrat',
  'fsetxattr', 'fgetxattr', 'flistxattr', 'fremovexattr', 'setxattr', 'getxattr', 'listxattr', 'removexattr',
];
