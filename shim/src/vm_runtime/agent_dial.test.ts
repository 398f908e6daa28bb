import { CheckResponse_ServingStatus } from '@vfs/proto/gen/agent/agent';
import { Code, TtrpcError } from '@vfs/proto/ttrpc';
import type { AgentClient } from './agent_dial';
import { firstCheckAnswer } from './agent_dial';

/** An agent whose every Check answers `answerMs` after it was sent; records the sends. */
function slowAgent(answerMs: number, sent: number[]): AgentClient {
  const started = Date.now();
  const check = () => {
    sent.push(Date.now() - started);
    return new Promise((resolve) =>
      setTimeout(() => resolve({ status: CheckResponse_ServingStatus.SERVING }), answerMs),
    );
  };
  return { check } as unknown as AgentClient;
}

describe("the adopter's Check", () => {
  it('takes a slow answer that comes after a resend, resending meanwhile', async () => {
    const sent: number[] = [];
    const started = Date.now();
    const answer = await firstCheckAnswer(slowAgent(130, sent), Date.now() + 5000, 50);
    expect(answer.status).toBe(CheckResponse_ServingStatus.SERVING);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(sent.length).toBeGreaterThanOrEqual(2);
  });

  it('fails at once on an error other than the deadline, and sends once without a resend interval', async () => {
    const sent: number[] = [];
    const closed = {
      check: () => {
        sent.push(0);
        return Promise.reject(new TtrpcError(Code.Unavailable, 'connection closed'));
      },
    };
    await expect(
      firstCheckAnswer(closed as unknown as AgentClient, Date.now() + 5000, Number.POSITIVE_INFINITY),
    ).rejects.toThrow('connection closed');
    expect(sent).toHaveLength(1);
  });
});
