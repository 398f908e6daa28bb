// vfs-runtime's help text and the mistake it answers with.

export const USAGE = `usage: vfs-runtime <command> [options]

  check                   whether this host can run vfs sandboxes; exit status 1 when a line FAILs
  env [--json]            the effective configuration and the versions, as TOML (or JSON)
  volume add --id CONTAINER --source DIR --target PATH [--readonly] [--namespace NS]
                          share the host directory DIR at PATH in a running container
  volume remove --id CONTAINER --target PATH [--namespace NS]
                          take the volume at PATH out of the container again
  volume list [--id CONTAINER] [--namespace NS] [--json]
                          the volumes added to running containers
  pool serve [--size N]   keep N booted VMs ready for new sandboxes ([pool] size), until SIGTERM
  pool status [--json]    the warm pool's VMs
  template create         boot a VM and save it as the template new sandboxes resume ([factory])
  template status [--json]
                          the saved template, and whether this configuration uses it
  template remove         remove the saved template; sandboxes boot their VMs again
  help, --help            this text
  --version               the vfs version

check and env load the configuration as the shim does for a container without runtime options:
$VFS_CONFIG, else /etc/vfs/configuration.toml, else the built-in defaults (to see another file:
VFS_CONFIG=FILE vfs-runtime env). Volume commands find the container's sandbox under $VFS_RUN_DIR
(default /run/vfs), in every containerd namespace unless --namespace names one; they need root.
The pool answers shims on $VFS_RUN_DIR/pool.sock; it boots its VMs with the configuration env
shows, and a shim takes one only when its own configuration is the same. So does a template
([factory] template_path), which a shim resumes only with [factory] enable_template = true.
`;

/** A mistake on the command line: reported with a pointer to --help. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
