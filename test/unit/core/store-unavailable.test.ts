import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isStoreUnavailable } from '../../../src/store/unavailable.ts';

const pgError = (code: string, message = 'x') => Object.assign(new Error(message), { code });

describe('isStoreUnavailable: a store out of reach (503) versus a bad statement (a bug, 500)', () => {
  it('recognises lost, refused and terminated connections and a server shutting down or starting', () => {
    for (const e of [
      pgError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432'),
      pgError('ECONNRESET'),
      pgError('57P01', 'terminating connection due to administrator command'),
      pgError('57P03', 'the database system is starting up'),
      pgError('08006'),
      pgError('53300', 'sorry, too many clients already'),
      new Error('Connection terminated unexpectedly'),
      new Error('Client has encountered a connection error and is not queryable'),
      new Error('timeout exceeded when trying to connect'),
      Object.assign(new Error('wrapped'), { cause: pgError('ECONNREFUSED') }),
    ]) {
      assert.equal(isStoreUnavailable(e), true, String((e as Error).message));
    }
  });

  it('does not excuse statements that are wrong', () => {
    for (const e of [pgError('42601', 'syntax error at or near "SELEC"'), pgError('23505', 'duplicate key value'), pgError('22P02'), new Error('boom'), null, 'text', 42]) {
      assert.equal(isStoreUnavailable(e), false, String(e));
    }
  });
});
