// The control socket of multi-export mode: the JSON-lines control protocol of @vfs/contracts. A
// bad line or a refused request is answered with an error and the connection keeps serving.
import { type ControlRequest, type ControlResponse, JsonLinesServer, parseRequest } from '@vfs/contracts';
import type { Logger } from '../log';

export type ControlHandler = (request: ControlRequest) => Promise<ControlResponse>;

export function listenControl(path: string, handler: ControlHandler, log: Logger): Promise<JsonLinesServer> {
  return JsonLinesServer.listen(path, (line) => handler(parseRequest(line)), log.child({ socket: 'control' }));
}
