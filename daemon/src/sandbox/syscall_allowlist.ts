// The system calls the confined daemon may make: those `strace -f` saw it make after pivot_root
// while serving the daemon's FUSE, vhost-user and DAX tests, and (checked with --seccomp=log) a
// real guest's boot, file workload and overlay (e2e/daemon_guest); plus those of paths the traces
// did not take: thread and process exit, signal return, Node timers and seeding, a new export's
// socket, and the fallbacks of older kernels and libcs (faccessat, the non-*at xattr calls).
// Building the sandbox (mount, pivot_root, capset) happens before the filter. clone, clone3,
// socket and ioctl are not allowed outright: SYSCALL_RULES says when they are.
import type { CallRule } from './seccomp_bpf';

export const SYSCALL_ALLOWLIST: readonly string[] = [
  // Memory, threads and signals: V8 and libuv.
  'mmap',
  'munmap',
  'mprotect',
  'madvise',
  'mremap',
  'brk',
  'futex',
  'set_robust_list',
  'rseq',
  'sched_getaffinity',
  'sched_yield',
  'rt_sigaction',
  'rt_sigprocmask',
  'rt_sigreturn',
  'sigaltstack',
  // abort() and a fatal error raise their signal with it: without it a crash shows as SIGSYS.
  'tgkill',
  'exit',
  'exit_group',
  'nanosleep',
  'clock_nanosleep',
  'clock_gettime',
  'gettimeofday',
  'getrandom',
  'getpid',
  'gettid',
  'getuid',
  'geteuid',
  'getgid',
  'getegid',
  'capget',
  'uname',
  // libuv's fallback for total memory (a Worker's heap limits) once /proc/meminfo is out of reach.
  'sysinfo',
  'getcwd',
  'umask',
  'readlink',
  // Event loops: epoll, eventfds, pipes; poll in sys/poll.ts.
  'epoll_create1',
  'epoll_ctl',
  'epoll_wait',
  'epoll_pwait',
  'eventfd2',
  'pipe2',
  'poll',
  // vhost-user and control sockets (a new export's socket is made after the filter is on).
  'bind',
  'listen',
  'accept4',
  'recvmsg',
  'sendmsg',
  'setsockopt',
  'shutdown',
  // The passthrough file system.
  'read',
  'write',
  'readv',
  'writev',
  'pread64',
  'pwrite64',
  'preadv',
  'pwritev',
  'preadv2',
  'pwritev2',
  'close',
  'openat',
  'openat2',
  // Inodes held as file handles (--inode-file-handles).
  'name_to_handle_at',
  'open_by_handle_at',
  'fcntl',
  'flock',
  'lseek',
  'fallocate',
  'ftruncate',
  'copy_file_range',
  'fsync',
  'fdatasync',
  'syncfs',
  'fstat',
  'newfstatat',
  'statx',
  'fstatfs',
  'getdents64',
  'faccessat',
  'faccessat2',
  'fchmod',
  'fchmodat',
  'fchownat',
  'utimensat',
  'mkdirat',
  // No argument check: the kernel itself makes only the types a guest's MKNOD may ask for
  // (regular, FIFO, socket, char and block device). A device node is made inert where it lands:
  // the share is nodev and the daemon never opens one; CAP_MKNOD stays for the guest's nodes.
  'mknodat',
  'symlinkat',
  'linkat',
  'readlinkat',
  'renameat',
  'renameat2',
  // The control socket appears by rename from its staging name (json_lines/server.ts), as rmSync
  // and chmodSync make unlink and chmod: nothing renameat2 does not already allow.
  'rename',
  'unlinkat',
  'unlink',
  'setfsuid',
  'setfsgid',
  // A creation's one supplementary group (FUSE_CREATE_SUPP_GROUP), set and cleared per thread.
  'setgroups',
  'chmod',
  // xattrs: the *xattrat calls (Linux 6.13), else the fd and /proc/self/fd path calls.
  'setxattrat',
  'getxattrat',
  'listxattrat',
  'removexattrat',
  'fsetxattr',
  'fgetxattr',
  'flistxattr',
  'fremovexattr',
  'setxattr',
  'getxattr',
  'listxattr',
  'removexattr',
];

const CLONE_VM = 0x100;
const CLONE_FS = 0x200;
const CLONE_FILES = 0x400;
const CLONE_SIGHAND = 0x800;
const CLONE_THREAD = 0x1_0000;
const CLONE_SYSVSEM = 0x4_0000;
const CLONE_SETTLS = 0x8_0000;
const CLONE_PARENT_SETTID = 0x10_0000;
const CLONE_CHILD_CLEARTID = 0x20_0000;
/** The flags glibc's pthread_create passes: every thread of V8 and libuv. */
const THREAD_CLONE_FLAGS =
  CLONE_VM |
  CLONE_FS |
  CLONE_FILES |
  CLONE_SIGHAND |
  CLONE_THREAD |
  CLONE_SYSVSEM |
  CLONE_SETTLS |
  CLONE_PARENT_SETTID |
  CLONE_CHILD_CLEARTID;
const AF_UNIX = 1;
const ENOSYS = 38;
const FIONBIO = 0x5421;
const PR_SET_PDEATHSIG = 1;

/** Calls allowed only with some arguments, or answered without running. */
export const SYSCALL_RULES: Readonly<Record<string, CallRule>> = {
  // No flag outside pthread_create's: no CLONE_NEW* (a user namespace would give back every
  // capability), no fork, no exit signal. The kernel reads only the low 32 bits of clone's flags.
  clone: { kind: 'argument', arg: 0, mask: ~THREAD_CLONE_FLAGS, value: 0 },
  // Its flags are in memory BPF cannot read. ENOSYS makes glibc fall back to clone (as Docker's
  // default profile does), where they are checked.
  clone3: { kind: 'errno', errno: ENOSYS },
  // The daemon's sockets (control, vhost-user) are AF_UNIX: no network, netlink or packet socket.
  socket: { kind: 'argument', arg: 0, mask: 0xffff_ffff, value: AF_UNIX },
  // libuv makes an fd it starts to watch non-blocking with FIONBIO (uv_poll_init: the device
  // loop's epoll fd). No other request: no TIOCSTI, no device or file-system ioctl.
  ioctl: { kind: 'argument', arg: 1, mask: 0xffff_ffff, value: FIONBIO },
  // The parent-death signal, set again after each request served as another user (the id
  // change clears it): sys/parent_death.ts. No other prctl.
  prctl: { kind: 'argument', arg: 0, mask: 0xffff_ffff, value: PR_SET_PDEATHSIG },
};
