#!/bin/sh
# /init of bench-guest's VM (busybox ash, PID 1): loads the staged modules, mounts the share with tag
# `share` at /mnt/share, runs /workload on it and powers off. On the kernel command line:
#   bench.fs=virtiofs|9p   the file system to mount
#   bench.opts=O           its mount options (comma-separated; may be empty)
#   bench.scale=F          the workload's size factor
# The workload's VFSBENCH lines and the share's /proc/mounts line (VFSBENCH-MOUNT <type> <options>)
# go to the console; a failure prints `VFSBENCH-ERROR …` and powers off, so the host always sees an
# exit.
export PATH=/bin
SHARE=/mnt/share

fail() {
  echo "VFSBENCH-ERROR init: $*"
  poweroff -f
}

mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev

for arg in $(cat /proc/cmdline); do
  case "$arg" in
    bench.fs=*) fs=${arg#bench.fs=} ;;
    bench.opts=*) opts=${arg#bench.opts=} ;;
    bench.scale=*) scale=${arg#bench.scale=} ;;
  esac
done

while read -r module; do
  insmod "/vfs/modules/$module.ko" || fail "insmod $module"
done </vfs/modules/load-order

mkdir -p "$SHARE"
mount -t "$fs" ${opts:+-o "$opts"} share "$SHARE" || fail "mount -t $fs -o $opts"
# What the kernel made of the options (dax=always shows only with a DAX window): the host checks it.
while read -r _ dir type options _; do
  [ "$dir" = "$SHARE" ] && echo "VFSBENCH-MOUNT $type $options"
done </proc/mounts
/workload "$SHARE" "$scale"
umount "$SHARE" || fail "umount"
poweroff -f
