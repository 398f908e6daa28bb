#!/bin/sh
# /init of the vfs guest (busybox ash, PID 1). Its contract with the host is stated once in
# contracts/src/guest_boot.ts; init_contract.test.ts checks this file against it. On the kernel
# command line:
#   vfs.mode=poweroff              power off right after the start marker (the bare-VM floor)
#   vfs.mode=script vfs.tag=T vfs.script=P [vfs.ro=1]
#                                  mount virtiofs tag T at /mnt/share, run `sh /mnt/share/P` there,
#                                  print VFS-SCRIPT-EXIT=<code>, power off
#   vfs.mode=agent [vfs.runtime_tag=T (default vfsruntime)] [vfs.runtime_image=S]
#                  [vfs.runtime_pmem=1]
#                                  mount /dev/pmem0 (an erofs image, with dax), the virtio-blk disk
#                                  with serial S (an erofs image) or else virtiofs tag T read-only at
#                                  /run/vfs/runtime, link /lib, /lib64 (and /usr/lib when the share
#                                  has it) into it for node's loader, run
#                                  `node <agent.blob.flags> --snapshot-blob agent.blob -- --port
#                                  /dev/vportNpM` (the virtio-serial port named agent.0), or `node
#                                  agent.js --port …` when the runtime has no agent.blob or the blob
#                                  does not load; power off when the agent exits. Once the runtime
#                                  is mounted, PID 1 goes on in the runtime's busybox when it has
#                                  one (`/init vfs-agent-from-runtime`), which /bin/busybox then
#                                  links to
# Console markers: `vfs-init: start <uptime>`, `vfs-init: runtime <source> <fs> <options>`,
# `vfs-init: agent <port> <uptime>`, `vfs-init: poweroff <uptime>`; failures print
# `vfs-init: error: …` and power off, so the VMM always sees an exit. start and agent are also
# appended as "<name> <uptime>" lines to /run/vfs/boot-marks, which the agent reports in
# GetGuestDetails. The kernel (agent/image/kernel) has every driver built in: there are no modules.
#
# Reaping: this shell stays PID 1 and spends its life in `wait <agent pid>`. busybox ash waits with
# waitpid(-1), so every orphan reparented to PID 1 is reaped while it waits; unknown pids are
# dropped. A separate init (busybox init + inittab) would add a process and a config file for the
# same effect.
export PATH=/bin
RUNTIME=/run/vfs/runtime
SHARE=/mnt/share
MARKS=/run/vfs/boot-marks
# /init's argument when run_agent runs it again from the runtime's busybox.
FROM_RUNTIME=vfs-agent-from-runtime

uptime_s() { read -r up _ </proc/uptime; echo "$up"; }
say() { echo "vfs-init: $*"; }
# mark NAME [DETAIL]: a console marker and a boot-marks line, at the same uptime.
mark() {
  up=$(uptime_s)
  say "$1${2:+ $2} $up"
  echo "$1 $up" >>"$MARKS"
}

power_off() {
  sync
  say "poweroff $(uptime_s)"
  poweroff -f
}

die() {
  say "error: $*"
  power_off
}

mount_basics() {
  mount -t proc proc /proc
  mount -t devtmpfs dev /dev
  exec </dev/console >/dev/console 2>&1
  mount -t sysfs sys /sys
  mount -t tmpfs -o mode=0755,nosuid,nodev run /run
  mkdir /run/vfs
}

# Sets mode, tag, script, ro, runtime_tag, runtime_image, runtime_pmem from vfs.* words of
# /proc/cmdline.
parse_cmdline() {
  mode='' tag='' script='' ro=0 runtime_tag=vfsruntime runtime_image='' runtime_pmem=0
  read -r cmdline </proc/cmdline
  for word in $cmdline; do
    case "$word" in
      vfs.mode=*) mode=${word#vfs.mode=} ;;
      vfs.tag=*) tag=${word#vfs.tag=} ;;
      vfs.script=*) script=${word#vfs.script=} ;;
      vfs.ro=*) ro=${word#vfs.ro=} ;;
      vfs.runtime_tag=*) runtime_tag=${word#vfs.runtime_tag=} ;;
      vfs.runtime_image=*) runtime_image=${word#vfs.runtime_image=} ;;
      vfs.runtime_pmem=*) runtime_pmem=${word#vfs.runtime_pmem=} ;;
    esac
  done
}

run_script() {
  [ -n "$tag" ] || die "vfs.mode=script needs vfs.tag"
  [ -n "$script" ] || die "vfs.mode=script needs vfs.script"
  opts=rw
  [ "$ro" = 1 ] && opts=ro
  mkdir -p "$SHARE"
  mount -t virtiofs -o "$opts" "$tag" "$SHARE" || die "mount virtiofs $tag failed"
  cd "$SHARE" || die "cd $SHARE failed"
  VFS_SHARE=$SHARE sh "$SHARE/${script#/}"
  echo "VFS-SCRIPT-EXIT=$?"
  cd /
  power_off
}

# The port's /dev/vportNpM number depends on probe order; its name is stable. The name arrives by
# a control message after the driver binds, so poll briefly.
find_agent_port() {
  tries=0
  while [ "$tries" -lt 200 ]; do
    for d in /sys/class/virtio-ports/*; do
      [ -r "$d/name" ] && [ "$(cat "$d/name")" = agent.0 ] && { echo "/dev/${d##*/}"; return 0; }
    done
    tries=$((tries + 1))
    sleep 0.025
  done
  return 1
}

# The virtio-blk disk whose serial is $1 (its /dev/vdX depends on probe order). virtio_blk probes
# during the kernel's boot, but poll briefly in case its devtmpfs node lags.
find_disk() {
  tries=0
  while [ "$tries" -lt 40 ]; do
    for d in /sys/block/vd*; do
      [ -r "$d/serial" ] && [ "$(cat "$d/serial")" = "$1" ] && [ -b "/dev/${d##*/}" ] && { echo "/dev/${d##*/}"; return 0; }
    done
    tries=$((tries + 1))
    sleep 0.025
  done
  return 1
}

# The fsdax namespace the pfn info block of build/runtime.pmem makes of the virtio-pmem device.
# libnvdimm probes namespaces asynchronously, so poll briefly for its block device.
find_pmem() {
  tries=0
  while [ "$tries" -lt 80 ]; do
    [ -b /dev/pmem0 ] && { echo /dev/pmem0; return 0; }
    tries=$((tries + 1))
    sleep 0.025
  done
  return 1
}

# The runtime's line of /proc/mounts as "<source> <fs> <options>".
runtime_mount() {
  while read -r src dir fs opts _; do
    [ "$dir" = "$RUNTIME" ] && { echo "$src $fs $opts"; return 0; }
  done </proc/mounts
  return 1
}

# The runtime mapped from the host page cache with DAX. No fallback: without dax every guest would
# copy Node into its own page cache, which is what this mode exists to avoid.
mount_runtime_pmem() {
  pmem=$(find_pmem) || die "no /dev/pmem0 for vfs.runtime_pmem (virtio_pmem or nd_pmem not probed?)"
  mount -t erofs -o ro,nodev,nosuid,dax "$pmem" "$RUNTIME" || die "mount runtime pmem $pmem failed"
  set -- $(runtime_mount)
  case ",$3," in
    *,dax=always,* | *,dax,*) ;;
    *) die "runtime pmem $pmem mounted without dax (no fsdax namespace: is the pfn info block there?)" ;;
  esac
}

# The runtime pmem or image when the host attached one (read-only to QEMU too: every sandbox shares
# the file), else the virtiofs runtime share.
mount_runtime() {
  mkdir -p "$RUNTIME"
  if [ "$runtime_pmem" = 1 ]; then
    mount_runtime_pmem
  elif [ -n "$runtime_image" ]; then
    disk=$(find_disk "$runtime_image") || die "no virtio-blk disk with serial $runtime_image"
    mount -t erofs -o ro,nodev,nosuid "$disk" "$RUNTIME" || die "mount runtime image $disk failed"
  else
    mount -t virtiofs -o ro "$runtime_tag" "$RUNTIME" || die "mount runtime share $runtime_tag failed"
  fi
  say "runtime $(runtime_mount)"
}

link_runtime_libs() {
  for d in lib lib64; do
    [ -e "$RUNTIME/$d" ] && ln -s "$RUNTIME/$d" "/$d"
  done
  if [ -e "$RUNTIME/usr/lib" ]; then
    mkdir -p /usr
    ln -s "$RUNTIME/usr/lib" /usr/lib
  fi
}

# What the agent's containers need (contracts GUEST_MOUNTS, checked by init_contract.test.ts). A
# guest that cannot mount them cannot run a container: it powers off, busybox's error above the
# marker.
mount_guest_filesystems() {
  mount -t cgroup2 -o nosuid,nodev,noexec,nsdelegate cgroup2 /sys/fs/cgroup || die "mount cgroup2 at /sys/fs/cgroup failed"
  mkdir -p /dev/pts /run/vfs/device-programs
  mount -t devpts -o nosuid,noexec,mode=0620,ptmxmode=0666,gid=5 devpts /dev/pts || die "mount devpts at /dev/pts failed"
  mount -t bpf -o nosuid,nodev,noexec,mode=0700 bpf /run/vfs/device-programs || die "mount bpf at /run/vfs/device-programs failed"
}

# Agent mode, in two steps. This one mounts the runtime; then PID 1 goes on in the runtime's own
# busybox (exec keeps PID 1), and /bin/busybox becomes a link to it: the initramfs's copy is
# freed, 1.9 MB of every guest's RAM that rootfs holds for the VM's life (the runtime's pages are
# the host's, with pmem). A runtime without a busybox keeps this one.
run_agent() {
  mount_runtime
  mount_guest_filesystems
  [ -x "$RUNTIME/busybox" ] && exec "$RUNTIME/busybox" sh /init "$FROM_RUNTIME"
  serve_agent
}

# The rest of agent mode: start the agent, power off when it exits.
serve_agent() {
  link_runtime_libs
  port=$(find_agent_port) || die "no virtio-serial port named agent.0"
  mark agent "$port"
  # The startup snapshot skips compiling and evaluating agent.js (≈0.2 s under TCG). It loads only
  # under the V8 flags it was built with (agent.blob.flags, agent/runtime.mk). Node exits 14 when
  # it cannot load a snapshot at all: the agent then starts from agent.js, slower but serving.
  if [ -e "$RUNTIME/agent.blob" ]; then
    start_agent "$RUNTIME/node" $(cat "$RUNTIME/agent.blob.flags" 2>/dev/null) \
      --snapshot-blob "$RUNTIME/agent.blob" -- --port "$port"
    if [ "$rc" = 14 ] && [ -e "$RUNTIME/agent.js" ]; then
      say "agent.blob did not load (exit 14): starting agent.js"
      start_agent "$RUNTIME/node" "$RUNTIME/agent.js" --port "$port"
    fi
  else
    start_agent "$RUNTIME/node" "$RUNTIME/agent.js" --port "$port"
  fi
  say "agent exited with $rc"
  power_off
}

# Runs the agent and waits for it, reaping orphans meanwhile; its exit status lands in $rc.
# No `kill -0` before the wait: ash may already have reaped an agent that exited at once (node
# refusing the blob), and wait still returns that job's status.
start_agent() {
  "$@" &
  agent=$!
  wait "$agent"
  rc=$?
}

if [ "${1-}" = "$FROM_RUNTIME" ]; then
  ln -sf "$RUNTIME/busybox" /bin/busybox || die "cannot link /bin/busybox to the runtime's"
  serve_agent
  exit 1
fi
mount_basics
mark start
parse_cmdline
[ "$mode" = poweroff ] && power_off
case "$mode" in
  script) run_script ;;
  agent) run_agent ;;
  '') die "no vfs.mode= on the kernel command line" ;;
  *) die "unknown vfs.mode=$mode" ;;
esac
