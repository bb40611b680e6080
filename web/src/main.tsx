// The consortium dashboard: sign-in, navigation by hash (#/, #/members/<id>, #/runs, #/runs/<id>,
// #/privacy, #/analytics, #/audit, #/governance, #/governance/<planId>) and the live change stream
// that tells pages when to refetch.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { initialToken, openStream, saveToken, type LiveKind } from './api.js';
import { AnalyticsPage } from './analytics.js';
import { GovernancePage } from './governance.js';
import { AuditPage, MemberPage, OverviewPage, PrivacyPage, RunsPage, type Versions } from './pages.js';
import { RunPage } from './run-page.js';
import './style.css';

function useHash(): string {
  const [hash, setHash] = useState(window.location.hash || '#/');
  useEffect(() => {
    const update = () => setHash(window.location.hash || '#/');
    window.addEventListener('hashchange', update);
    return () => window.removeEventListener('hashchange', update);
  }, []);
  return hash;
}

function SignIn(props: { onToken: (token: string) => void; error?: string }) {
  const [value, setValue] = useState('');
  return (
    <form
      class="signin"
      onSubmit={(e) => {
        e.preventDefault();
        if (value.trim()) props.onToken(value.trim());
      }}
    >
      <h1>Concord</h1>
      <p>Sign in with the operator token or an API token (auditor, researcher) to watch the consortium.</p>
      {props.error ? <p class="error" role="alert">{props.error}</p> : null}
      <label for="token">Token</label>
      <input id="token" type="password" autocomplete="off" aria-label="API token" value={value} onInput={(e) => setValue((e.target as HTMLInputElement).value)} />
      <button type="submit" aria-label="Sign in">Sign in</button>
    </form>
  );
}

const PAGES = [
  ['#/', 'Overview'],
  ['#/runs', 'Runs'],
  ['#/privacy', 'Privacy'],
  ['#/analytics', 'Analytics'],
  ['#/audit', 'Audit'],
  ['#/governance', 'Governance'],
] as const;

function App() {
  const [token, setToken] = useState<string | null>(initialToken);
  const [live, setLive] = useState(false);
  const [versions, setVersions] = useState<Versions>({ runs: 0, round: 0, members: 0, audit: 0 });
  const [denied, setDenied] = useState<string | undefined>();
  const hash = useHash();

  useEffect(() => {
    if (!token) return;
    return openStream(
      token,
      (kind: LiveKind) => setVersions((v) => ({ ...v, [kind]: v[kind] + 1 })),
      setLive,
    );
  }, [token]);

  if (!token) {
    return (
      <SignIn
        error={denied}
        onToken={(t) => {
          saveToken(t);
          setDenied(undefined);
          setToken(t);
        }}
      />
    );
  }
  const signOut = (reason?: string) => {
    saveToken(null);
    setDenied(reason);
    setToken(null);
  };
  const path = hash.slice(1);
  const runMatch = path.match(/^\/runs\/([^/]+)$/);
  const planMatch = path.match(/^\/governance\/([^/]+)$/);
  const memberMatch = path.match(/^\/members\/([^/]+)$/);
  const section = runMatch ? '#/runs' : planMatch ? '#/governance' : memberMatch ? '#/' : hash;
  const common = { token, versions, onUnauthorized: signOut };
  return (
    <div class="shell">
      <header class="top">
        <a class="brand" href="#/">Concord</a>
        <nav aria-label="Dashboard pages">
          {PAGES.map(([href, label]) => (
            <a href={href} aria-current={section === href ? 'page' : undefined}>
              {label}
            </a>
          ))}
        </nav>
        <span class={`live ${live ? 'on' : 'off'}`} role="status" aria-label={live ? 'live updates connected' : 'live updates disconnected'}>
          {live ? 'live' : 'offline'}
        </span>
        <button class="link" type="button" aria-label="Sign out" onClick={() => signOut()}>
          Sign out
        </button>
      </header>
      <main>
        {runMatch ? (
          <RunPage {...common} runId={decodeURIComponent(runMatch[1]!)} />
        ) : memberMatch ? (
          <MemberPage {...common} memberId={decodeURIComponent(memberMatch[1]!)} />
        ) : path === '/runs' ? (
          <RunsPage {...common} />
        ) : path === '/privacy' ? (
          <PrivacyPage {...common} />
        ) : path === '/analytics' ? (
          <AnalyticsPage {...common} />
        ) : path === '/audit' ? (
          <AuditPage {...common} />
        ) : planMatch ? (
          <GovernancePage {...common} planId={decodeURIComponent(planMatch[1]!)} />
        ) : path === '/governance' ? (
          <GovernancePage {...common} />
        ) : (
          <OverviewPage {...common} />
        )}
      </main>
    </div>
  );
}

render(<App />, document.getElementById('app')!);
