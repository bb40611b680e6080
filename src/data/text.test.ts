import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadDataset, loadMemberData } from './spec.js';
import { CLS_ID, PAD_ID, RESERVED_IDS, fnv1a, tokenize } from './tokenizer.js';
import { SPAM_FOLDERS, emailText, loadSpamAssassin } from './spamassassin.js';

describe('the hashing tokenizer', () => {
  it('maps words to fixed ids in [2, vocab), pads with 0 and can lead with [CLS]', () => {
    const options = { vocabSize: 1000, length: 8 };
    const ids = tokenize('Free MONEY, free money!! a x', options);
    // "a" and "x" are too short to be words; case does not matter.
    assert.deepEqual(Array.from(ids.slice(0, 4)), [ids[0], ids[1], ids[0], ids[1]]);
    assert.deepEqual(Array.from(ids.slice(4)), [PAD_ID, PAD_ID, PAD_ID, PAD_ID]);
    assert.equal(ids[0], RESERVED_IDS + (fnv1a('free') % (1000 - RESERVED_IDS)));
    assert.ok(Array.from(ids.slice(0, 4)).every((id) => id >= RESERVED_IDS && id < 1000));
    const withCls = tokenize('free money', { ...options, cls: true });
    assert.deepEqual(Array.from(withCls.slice(0, 3)), [CLS_ID, ids[0], ids[1]]);
    assert.equal(tokenize('word '.repeat(50), options).filter((id) => id !== PAD_ID).length, 8, 'cut to the length');
    assert.deepEqual(Array.from(tokenize('Ünïcode 日本語 слова', options).slice(0, 3)).map((id) => id >= RESERVED_IDS), [true, true, true]);
  });
});

describe('the SpamAssassin corpus', () => {
  it('holds the package\'s 6,046 emails, subject and body without other headers, spam labelled 1', async () => {
    const emails = await loadSpamAssassin();
    assert.equal(emails.length, 6046);
    const counts = SPAM_FOLDERS.map((_, f) => emails.filter((e) => e.folder === f).length);
    assert.deepEqual(counts, [2500, 1400, 250, 500, 1396]);
    assert.equal(emails.filter((e) => e.spam).length, 1896);
    const text = emailText('From: a@b\nSubject: Cheap pills\nReceived: x\n\n<b>Buy</b> now');
    assert.equal(text, 'Cheap pills\n\n\n Buy  now');
  });

  it('as member shares: dirichlet label skew, or whole source folders per member; test set apart', async () => {
    const spec = (extra: string) => `spam:${extra},vocab=5000,length=64,test=500`;
    const test = await loadDataset(spec('test'));
    assert.equal(test.y.length, 500);
    assert.deepEqual(test.inputShape, [64]);
    const share = await loadMemberData(spec('member=3,members=5,partition=source'));
    // Member 3 of 5 owns folder spam-1 whole, less what went to the test set.
    assert.ok(share.train.y.every((y) => y === 1) && share.holdout.y.every((y) => y === 1));
    assert.ok(share.descriptor.numExamples + share.descriptor.numHoldout < 500 && share.descriptor.numExamples + share.descriptor.numHoldout > 400);
    assert.equal(share.descriptor.vocabulary, 5000);
    const ids = Array.from(share.train.x);
    assert.ok(ids.every((id) => Number.isInteger(id) && id >= 0 && id < 5000));
    await assert.rejects(loadMemberData('mnist:member=0,members=2,partition=source'), /partition=source needs data with sources \(spam folders, ratings regions\); mnist has none/);
  });
});
