// How the console words a server's answer and the API's refusals for a shop admin.
import { describe, expect, it } from 'vitest';
import { apiError, reply } from '../src/console/context.js';

describe('console wording', () => {
  it('shows an answer once, and a feedback report without the code 0 it is stored with', () => {
    expect(reply({ code: 550, enhanced: '5.1.1', text: 'No such user' })).toBe('550 5.1.1 No such user');
    expect(reply({ code: 550, enhanced: '5.1.1', text: '550 5.1.1 <a@b.test>: No such user' })).toBe('550 5.1.1 <a@b.test>: No such user');
    expect(reply({ code: 0, text: 'feedback report: abuse' })).toBe('feedback report: abuse');
    expect(reply(undefined)).toBe('');
  });

  it('gives the API\'s message without the HTTP status, which means nothing to a shop admin', () => {
    expect(apiError({ status: 409, data: { error: 'SUPPRESSED', message: 'x@y.test is on the suppression list' } } as never)).toBe('x@y.test is on the suppression list');
    expect(apiError({ status: 502, data: {} } as never)).toBe('the request failed (HTTP 502)');
  });
});
