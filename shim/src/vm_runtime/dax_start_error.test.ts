import { SandboxError } from '../sandbox_error';
import { qemuStartError } from './dax_start_error';

// What controlVm rejects with when QEMU exits before QMP answers, and QEMU 7.2's stderr then.
const exited = new Error('QMP: gave up connecting to /run/vfs/s/qmp.sock: QEMU exited (code 1): …');
const UPSTREAM =
  'qemu-system-x86_64: -device vhost-user-fs-pci,id=fs1,chardev=fs1-chr,tag=vfslayers,cache-size=256M: ' +
  "Property 'vhost-user-fs-pci.cache-size' not found";
const failure = { err: exited, stderr: `some warning\n${UPSTREAM}\n`, daxWindowMib: 256, qemuPath: '/usr/bin/qemu' };

describe('qemuStartError', () => {
  it("names QEMU's refusal of the window, the key that asked for it and the QEMU to use instead", () => {
    const err = qemuStartError(failure);
    expect(err).toBeInstanceOf(SandboxError);
    expect((err as SandboxError).kind).toBe('bad-config');
    expect((err as SandboxError).message).toBe(
      '[daemon] dax_window_mib = 256 gives the container shares DAX windows, which QEMU ' +
        `(hypervisor.path = /usr/bin/qemu) refused: ${UPSTREAM}. Set hypervisor.path to our QEMU ` +
        '(make vmm: /opt/vfs/qemu/bin/qemu-system-x86_64), or dax_window_mib = 0 to run without DAX',
    );
    expect((err as SandboxError).cause).toBe(exited);
  });

  it('leaves a failure that is not about the window, or one without DAX, as it was', () => {
    const memory = 'qemu-system-x86_64: cannot set up guest memory: Cannot allocate memory\n';
    expect(qemuStartError({ ...failure, stderr: memory })).toBe(exited);
    expect(qemuStartError({ ...failure, daxWindowMib: 0 })).toBe(exited);
  });
});
