// Whether a QEMU binary can give a virtio-fs export a DAX window, shared by `vfs-runtime check`
// and the shim. Only the generic vhost-user device has one (vhost-user-fs-pci has no cache size in
// any QEMU), and only a QEMU with vhost-user shared memory (SHMEM_MAP, GET_SHMEM_CONFIG: upstream
// 11.0+) maps the back end's files into it. QEMU 7.2 and 10.x have the device
// but no shared memory, so its presence alone proves nothing: the probe also asks QEMU, over QMP,
// for the QOM type that holds one SHMEM_MAP mapping.

/** The generic vhost-user PCI device that exposes the back end's shared-memory regions as a BAR. */
export const DAX_DEVICE = 'vhost-user-test-device-pci';

/** QOM type of one SHMEM_MAP mapping; registered only by a QEMU with vhost-user shared memory. */
export const SHMEM_MAPPING_TYPE = 'virtio-shared-memory-mapping';

/** Arguments of the QMP probe: no guest, QMP on stdin/stdout, QEMU_DAX_PROBE_INPUT as the session. */
export const QEMU_DAX_PROBE_ARGS: readonly string[] = [
  '-machine',
  'none',
  '-nodefaults',
  '-display',
  'none',
  '-qmp',
  'stdio',
];

/** The QMP session of the probe: list every QOM type, then quit. */
export const QEMU_DAX_PROBE_INPUT = [
  '{"execute":"qmp_capabilities"}',
  '{"execute":"qom-list-types"}',
  '{"execute":"quit"}',
  '',
].join('\n');

/** The QOM type names in a QMP transcript (one JSON object a line; other lines are ignored). */
export function qomTypeNames(transcript: string): Set<string> {
  const names = new Set<string>();
  for (const line of transcript.split('\n')) {
    let reply: unknown;
    try {
      reply = JSON.parse(line);
    } catch {
      continue;
    }
    const listed = (reply as { return?: unknown } | null)?.return;
    if (!Array.isArray(listed)) continue;
    for (const type of listed) {
      const name = (type as { name?: unknown } | null)?.name;
      if (typeof name === 'string') names.add(name);
    }
  }
  return names;
}

/** `-device help` lists the DAX device and the QMP probe lists the shared-memory mapping type. */
export function qemuCanDax(devices: ReadonlySet<string>, qomTypes: ReadonlySet<string>): boolean {
  return devices.has(DAX_DEVICE) && qomTypes.has(SHMEM_MAPPING_TYPE);
}
