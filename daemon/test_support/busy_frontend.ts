// A front-end that keeps its request queue busy: GETATTRs of the root, 32 in flight, each answered
// one replaced at once, for `ms` milliseconds. Run as its own process (argv: socket path, ms) so
// the test that starts it stays free to talk to the daemon's control socket meanwhile. Prints
// "busy" once its requests flow, and at the end the number answered.
import * as abi from '@vfs/daemon/fuse';
import { VhostUserFrontend } from '@vfs/harness/vhost_user_driver/frontend';
import { FuseClient } from '@vfs/harness/vhost_user_driver/fuse_client';
import { REQUEST_QUEUE } from '@vfs/harness/vhost_user_driver/transport';

const [socketPath, ms] = process.argv.slice(2);
const fe = VhostUserFrontend.connect({
  socketPath: socketPath as string,
  memorySize: 16 << 20,
  queueSize: 128,
  timeoutMs: 5000,
});
const client = new FuseClient(fe);
client.init();
const getattrIn = Buffer.alloc(abi.GETATTR_IN_SIZE);
const getattr = { readable: [client.header(abi.Opcode.GETATTR, 1, getattrIn.length), getattrIn], writableLen: 256 };
client.getattr(1);
process.stdout.write('busy\n');
const end = Date.now() + Number(ms);
let answered = 0;
fe.pipeline(
  REQUEST_QUEUE,
  32,
  () => (Date.now() < end ? getattr : null),
  () => answered++,
);
fe.close();
process.stdout.write(`${answered}\n`);
