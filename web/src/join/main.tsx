// The zero-install member at /join: pick local data (a CSV file, a folder of labelled images
// or the demo shard), enroll with an invitation code (or under open enrollment), then take
// part in rounds with the Node member's own task handlers (member-loop.ts): plain, FedProx,
// DP-SGD, client-level DP and SecAgg+ rounds. Only model updates (masked under secure
// aggregation) and metrics leave the page; with a data owner's key, only approved plans train.
import { render } from 'preact';
import { useState } from 'preact/hooks';
import { ownerKeyBytes } from './approval.js';
import { pickBackend } from './backend.js';
import { loadImageFolder } from './images.js';
import { classCounts, demoShard, describe, parseCsv, type LocalData } from './local-data.js';
import { serve } from './member-loop.js';
import { BrowserClient, loadIdentity, loadMember, saveMember } from './wire.js';

/** Makes a file input pick a whole folder; spread because Preact's JSX types lack the attribute. */
const FOLDER_PICKER = { webkitdirectory: true };
/** δ of the member's own privacy budget, as the node's --privacy-budget default. */
const DELTA = 1e-5;

function Join() {
  const [data, setData] = useState<LocalData | null>(null);
  const [error, setError] = useState('');
  const [name, setName] = useState('');
  const [invitation, setInvitation] = useState('');
  /** The data owner's public key (base64url): when set, only plans it approved may train here. */
  const [ownerKey, setOwnerKey] = useState('');
  /** This member's own privacy budget ε (δ = 1e-5): when set, it trains only under DP and within it. */
  const [budget, setBudget] = useState('');
  const [memberId, setMemberId] = useState('');
  const [lines, setLines] = useState<string[]>([]);
  const [progress, setProgress] = useState('');
  const [trained, setTrained] = useState(0);
  const log = (line: string) => setLines((l) => [...l.slice(-49), line]);

  const pickFile = async (file: File | undefined) => {
    if (!file) return;
    try {
      setData(parseCsv(await file.text(), file.name));
      setError('');
    } catch (e) {
      setData(null);
      setError((e as Error).message);
    }
  };

  const pickFolder = async (files: FileList | null) => {
    if (!files) return;
    try {
      setData(await loadImageFolder([...files]));
      setError('');
    } catch (e) {
      setData(null);
      setError((e as Error).message);
    }
  };

  const join = async () => {
    if (!data) return;
    setError('');
    const key = ownerKey.trim();
    try {
      if (key) ownerKeyBytes(key, "the data owner's public key");
    } catch {
      setError(`the data owner's public key must be a raw Ed25519 public key in base64url, 43 characters (A–Z, a–z, 0–9, "-", "_"), as in the "publicKey" of the owner's identity file; "${key.slice(0, 60)}" (${key.length} characters) is not one`);
      return;
    }
    const epsilon = budget.trim() === '' ? undefined : Number(budget);
    if (epsilon !== undefined && !(Number.isFinite(epsilon) && epsilon > 0)) {
      setError(`the privacy budget must be a positive number (ε, with δ = ${DELTA}); "${budget.trim().slice(0, 60)}" is not one`);
      return;
    }
    try {
      const identity = await loadIdentity();
      const client = new BrowserClient(window.location.origin, identity);
      const saved = await loadMember();
      const memberName = name.trim() || saved?.name || `browser-${identity.publicKey.slice(0, 8).toLowerCase().replace(/[^a-z0-9]/g, 'x')}`;
      const id = await client.enroll(memberName, describe(data), invitation.trim() || undefined);
      await saveMember({ memberId: id, name: memberName, url: client.url, ...(key ? { ownerKey: key } : {}) });
      setMemberId(id);
      log(`enrolled as ${memberName} (${id}); TensorFlow.js backend: ${await pickBackend()}${key ? "; only plans approved by the data owner's key will train here" : ''}`);
      setProgress('waiting for the next task');
      if (epsilon !== undefined) log(`privacy budget ε = ${epsilon} (δ = ${DELTA}): only differentially private tasks within it will train here`);
      serve({
        client,
        data,
        memberId: id,
        memberName,
        ...(key ? { ownerKey: key } : {}),
        ...(epsilon !== undefined ? { privacyBudget: { epsilon, delta: DELTA } } : {}),
        log,
        progress: setProgress,
        onTrained: () => setTrained((n) => n + 1),
      }).catch((e: Error) => setError(`the member stopped: ${e.message}`));
    } catch (e) {
      setError(`enrollment failed: ${(e as Error).message}`);
    }
  };

  return (
    <main>
      <h1>Join the consortium from this browser</h1>
      <p>Your data stays in this page: only its size and shape are sent at enrollment, and only model weights and metrics after each round.</p>
      <section aria-label="Local data">
        <h2>1. Your data</h2>
        <label>
          CSV file (numeric features, label in the last column){' '}
          <input type="file" accept=".csv,text/csv" data-testid="csv-file" disabled={!!memberId} onChange={(e) => void pickFile((e.target as HTMLInputElement).files?.[0])} />
        </label>{' '}
        <label>
          Folder of images, one subfolder per class (0/, 1/, …){' '}
          <input type="file" {...FOLDER_PICKER} multiple data-testid="image-folder" disabled={!!memberId} onChange={(e) => void pickFolder((e.target as HTMLInputElement).files)} />
        </label>{' '}
        <button type="button" data-testid="demo-shard" disabled={!!memberId} onClick={() => { setData(demoShard()); setError(''); }}>
          Use the demo shard
        </button>
        {data && <p data-testid="data-summary">{data.name}: {data.train} training rows, {data.y.length - data.train} holdout rows, {data.features} features, {data.classes} classes</p>}
        {data && data.inputShape.length > 1 && (
          <p data-testid="class-counts">
            Images of shape {data.inputShape.join('×')}; per class: {classCounts(data).map((n, label) => `${label}: ${n}`).join(', ')}
          </p>
        )}
      </section>
      <section aria-label="Enrollment">
        <h2>2. Enroll</h2>
        <label>Member name <input data-testid="member-name" value={name} disabled={!!memberId} onInput={(e) => setName((e.target as HTMLInputElement).value)} /></label>{' '}
        <label>Invitation code <input data-testid="invitation" value={invitation} disabled={!!memberId} placeholder="not needed under open enrollment" onInput={(e) => setInvitation((e.target as HTMLInputElement).value)} /></label>{' '}
        <label>Data owner's public key <input data-testid="owner-key" value={ownerKey} disabled={!!memberId} placeholder="optional: require plans approved by this key" onInput={(e) => setOwnerKey((e.target as HTMLInputElement).value)} /></label>{' '}
        <label>Privacy budget ε <input data-testid="privacy-budget" inputMode="decimal" value={budget} disabled={!!memberId} placeholder="optional: train only under DP, within it" onInput={(e) => setBudget((e.target as HTMLInputElement).value)} /></label>{' '}
        <button type="button" data-testid="join" disabled={!data || !!memberId} onClick={() => void join()}>Join</button>
      </section>
      {error && <p role="alert" class="error">{error}</p>}
      {memberId && (
        <section aria-label="Rounds">
          <h2>3. Rounds</h2>
          <p>Member <code data-testid="member-id">{memberId}</code> — <span data-testid="rounds-trained">{trained}</span> rounds trained</p>
          <p role="status" data-testid="progress">{progress}</p>
          <ol data-testid="log">{lines.map((l, i) => <li key={i}>{l}</li>)}</ol>
        </section>
      )}
    </main>
  );
}

render(<Join />, document.getElementById('join')!);
