import { Code, TtrpcError } from '@vfs/proto/ttrpc';
import { ContainerError } from '../container/errors';
import { SpecError } from '@vfs/contracts';
import { asTtrpcError } from './call_errors';

describe('asTtrpcError', () => {
  it('maps container error codes and keeps the cause with the errno name', () => {
    const launch = asTtrpcError(
      new ContainerError('LAUNCH_FAILED', 'exec /x: No such file', { containerId: 'c1', errno: 2 }),
    );
    expect([launch.code, launch.message]).toEqual([
      Code.FailedPrecondition,
      'container c1: exec /x: No such file (ENOENT)',
    ]);
    expect(asTtrpcError(new ContainerError('NOT_FOUND', 'no such container', { containerId: 'c2' })).code).toBe(
      Code.NotFound,
    );
    expect(asTtrpcError(new ContainerError('ALREADY_EXISTS', 'dup')).code).toBe(Code.AlreadyExists);
    expect(asTtrpcError(new ContainerError('BAD_STATE', 'paused')).code).toBe(Code.FailedPrecondition);
  });

  it('makes spec errors InvalidArgument, passes ttrpc errors through, and anything else Internal', () => {
    expect(asTtrpcError(new SpecError('$.process.args', 'expected an array')).code).toBe(Code.InvalidArgument);
    const own = new TtrpcError(Code.Canceled, 'gone');
    expect(asTtrpcError(own)).toBe(own);
    expect(asTtrpcError(new Error('boom'))).toMatchObject({ code: Code.Internal, message: 'boom' });
  });
});
