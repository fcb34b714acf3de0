// Ground-truth feedback turning into the counters the controller compares.
import { describe, expect, test } from '@jest/globals';
import type { PredictorProcess } from '../../controller/src/local/predictor-process.js';
import { MODEL, infer, marketRows, metric, predictorsPerTest, request } from '../support/predictor.js';
import { sleep } from '../../shared/wait.js';

const start = predictorsPerTest();

const feedbackUrl = (p: PredictorProcess) => `${p.url}/v2/models/${MODEL}/feedback`;

describe('feedback', () => {
  test('labels move correct/incorrect counts, Brier sufficient statistics and business value', async () => {
    const server = await start();
    const rows = marketRows(6);
    const reply = await infer(
      server,
      rows.map((r) => r.features),
      { extra: { id: 'batch-1' } },
    );
    const probability: number[] = reply.body.outputs[0].data;
    const predicted: number[] = reply.body.outputs[1].data;
    const labels = rows.map((r) => r.label);
    const returns = rows.map((r) => r.nextReturn);
    const accepted = await request(feedbackUrl(server), { body: { id: 'batch-1', label: labels, return: returns } });
    expect(accepted).toMatchObject({ status: 200, body: { accepted: 1, rejected: [] } });

    const correct = predicted.filter((p, i) => p === labels[i]).length;
    const brier = probability.map((p, i) => (p - labels[i]!) ** 2);
    const values = predicted.map((p, i) => (p === 1 ? returns[i]! : -returns[i]!));
    const v1 = { version: 'v1' };
    expect(await metric(server, 'weir_predictor_feedback_total', { ...v1, outcome: 'correct' })).toBe(correct);
    expect(await metric(server, 'weir_predictor_feedback_total', { ...v1, outcome: 'incorrect' })).toBe(6 - correct);
    expect(await metric(server, 'weir_predictor_brier_loss_sum_total', v1)).toBeCloseTo(
      brier.reduce((a, b) => a + b, 0),
      9,
    );
    expect(await metric(server, 'weir_predictor_brier_loss_squares_sum_total', v1)).toBeCloseTo(
      brier.reduce((a, b) => a + b * b, 0),
      9,
    );
    expect(await metric(server, 'weir_predictor_business_value_samples_total', v1)).toBe(6);
    const gains = await metric(server, 'weir_predictor_business_value_gains_sum_total', v1);
    const losses = await metric(server, 'weir_predictor_business_value_losses_sum_total', v1);
    expect(gains - losses).toBeCloseTo(
      values.reduce((a, b) => a + b, 0),
      12,
    );
    expect(gains).toBeCloseTo(
      values.filter((v) => v > 0).reduce((a, b) => a + b, 0),
      12,
    );
    expect(await metric(server, 'weir_predictor_business_value_squares_sum_total', v1)).toBeCloseTo(
      values.reduce((a, b) => a + b * b, 0),
      12,
    );
    expect(await metric(server, 'weir_predictor_predictions_total', { ...v1, class: '1' })).toBe(
      predicted.filter((p) => p === 1).length,
    );

    // The same prediction is counted once: a second label is a duplicate (200, so a retry is safe), not counted again.
    const again = await request(feedbackUrl(server), { body: { id: 'batch-1', label: labels } });
    expect(again).toMatchObject({ status: 200, body: { accepted: 0, duplicates: 1 } });
    expect(await metric(server, 'weir_predictor_feedback_total', v1)).toBe(6);
    expect(await metric(server, 'weir_predictor_feedback_duplicates_total', v1)).toBe(1);
    // The in-process log said so at start.
    expect(server.logs.join('\n')).toContain('prediction log: in this process only');
  });

  test('an explicit business value is used as given; a list is accepted item by item', async () => {
    const server = await start();
    const a = await infer(server, [marketRows(2)[0]!.features], { extra: { id: 'a' } });
    await infer(server, [marketRows(2)[1]!.features], { extra: { id: 'b' } });
    const reply = await request(feedbackUrl(server), {
      body: [
        { id: 'a', label: a.body.outputs[1].data[0], value: 2.5 },
        { id: 'b', label: 0, value: -1 },
      ],
    });
    expect(reply.body).toMatchObject({ accepted: 2 });
    expect(await metric(server, 'weir_predictor_business_value_gains_sum_total')).toBe(2.5);
    expect(await metric(server, 'weir_predictor_business_value_losses_sum_total')).toBe(1);
  });

  test('unknown and expired ids get 4xx and are counted; a list with one of them counts nothing, and the rest can be sent again', async () => {
    const server = await start({ args: ['--feedback-ttl', '300ms'] });
    await infer(server, [marketRows(1)[0]!.features], { extra: { id: 'soon-expired' } });
    const unknown = await request(feedbackUrl(server), { body: { id: 'never-made', label: 1 } });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toContain('id "never-made": no prediction with this id is logged');
    await sleep(500);
    const expired = await request(feedbackUrl(server), { body: { id: 'soon-expired', label: 1 } });
    expect(expired.status).toBe(410);
    expect(expired.body.error).toContain('the prediction expired');
    await infer(server, [marketRows(1)[0]!.features], { extra: { id: 'fresh' } });
    const mixed = await request(feedbackUrl(server), {
      body: [
        { id: 'fresh', label: 1 },
        { id: 'ghost', label: 0 },
      ],
    });
    expect(mixed.status).toBe(404);
    expect(mixed.body).toMatchObject({
      accepted: 0,
      rejected: [{ index: 1, id: 'ghost', reason: 'unknown' }],
      error: expect.stringContaining('nothing in this request was counted'),
    });
    // Nothing was used up: without the unknown id, the same label counts.
    expect(await request(feedbackUrl(server), { body: [{ id: 'fresh', label: 1 }] })).toMatchObject({
      status: 200,
      body: { accepted: 1 },
    });
    const invalid = await request(feedbackUrl(server), { body: { id: 'fresh', label: 'up' } });
    expect(invalid.status).toBe(400);
    expect(await metric(server, 'weir_predictor_feedback_rejected_total', { reason: 'unknown' })).toBe(2);
    expect(await metric(server, 'weir_predictor_feedback_rejected_total', { reason: 'expired' })).toBe(1);
    expect(await metric(server, 'weir_predictor_feedback_rejected_total', { reason: 'invalid' })).toBe(1);
    expect(await metric(server, 'weir_predictor_feedback_total')).toBe(1);
  });
});
