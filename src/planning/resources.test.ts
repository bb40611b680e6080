import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConcordError, ErrorCode } from '../protocol/errors.js';
import { carbonGramsPerUnit, parseResources, parseResourcesJson, unitsPerHour } from './resources.js';

function rejects(value: unknown, field: string, messagePart?: RegExp): void {
  assert.throws(
    () => parseResources(value),
    (e: unknown) => {
      assert.ok(e instanceof ConcordError);
      assert.equal(e.code, ErrorCode.INVALID_ARGUMENT);
      assert.equal(e.details.field, field);
      if (messagePart) assert.match(e.message, messagePart);
      return true;
    },
  );
}

test('defaults are filled in', () => {
  const resources = parseResources({ members: [{ name: 'A', capacity: 100, efficiency: 0.8 }] });
  assert.deepEqual(resources.members[0], {
    name: 'A',
    capacity: 100,
    efficiency: 0.8,
    costPerUnit: 0,
    availability: 1,
    carbonIntensity: 475,
    powerWatts: 0,
  });
});

test('each bad field is named with what was expected', () => {
  const ok = { name: 'A', capacity: 100, efficiency: 0.8 };
  rejects({ members: [ok, { ...ok, name: 'B', efficiency: 0 }] }, 'members[1].efficiency', /\(0, 1\]/);
  rejects({ members: [{ ...ok, efficiency: 1.2 }] }, 'members[0].efficiency');
  rejects({ members: [{ ...ok, capacity: -5 }] }, 'members[0].capacity', /null for no limit/);
  rejects({ members: [{ name: 'A', efficiency: 0.8 }] }, 'members[0].capacity', /required/);
  rejects({ members: [{ ...ok, availability: 2 }] }, 'members[0].availability', /\[0, 1\]/);
  rejects({ members: [{ ...ok, costPerUnit: -1 }] }, 'members[0].costPerUnit');
  rejects({ members: [{ ...ok, carbonIntensity: 'high' }] }, 'members[0].carbonIntensity', /gCO2\/kWh/);
  rejects({ members: [{ ...ok, unitsPerHour: 0 }] }, 'members[0].unitsPerHour');
  rejects({ members: [{ ...ok, name: '' }] }, 'members[0].name');
  rejects({ members: [ok, ok] }, 'members[1].name', /unique/);
  rejects({ members: [{ ...ok, speed: 3 }] }, 'members[0].speed', /unknown field "speed"/);
  rejects({ members: [] }, 'members', /at least one/);
  rejects({}, 'members', /required/);
  rejects({ members: [{ name: 'A', capacity: null, efficiency: 1, powerWatts: 100 }] }, 'members[0].unitsPerHour', /energy per unit/);
});

test('JSON text: syntax errors are INVALID_ARGUMENT too', () => {
  assert.equal(parseResourcesJson('{"members":[{"name":"A","capacity":1,"efficiency":1}]}').members.length, 1);
  assert.throws(
    () => parseResourcesJson('{"members": ['),
    (e: unknown) => e instanceof ConcordError && e.code === ErrorCode.INVALID_ARGUMENT && /JSON/.test(e.message),
  );
});

test('carbon per unit is power / speed × intensity', () => {
  const [a, b] = parseResources({
    members: [
      { name: 'A', capacity: 100, efficiency: 1, powerWatts: 300, carbonIntensity: 500 },
      { name: 'B', capacity: 100, efficiency: 1, powerWatts: 300, carbonIntensity: 500, unitsPerHour: 300 },
    ],
  }).members;
  assert.equal(unitsPerHour(a!), 100);
  assert.equal(carbonGramsPerUnit(a!), 1.5); // 3 Wh per unit at 500 g/kWh
  assert.equal(carbonGramsPerUnit(b!), 0.5); // 1 Wh per unit
});
