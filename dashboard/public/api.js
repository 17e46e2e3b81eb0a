// The dashboard API client: GET /api/dashboard/* with the admin key from this tab's session storage
// (never from or into a URL). A 401/403 asks for the key again (one prompt for every request waiting
// on it) and retries; under `qaforge serve --dev` no key is needed and none is asked for.
const KEY = 'qaforge.dashboard.key';
const dialog = () => /** @type {HTMLDialogElement} */ (document.getElementById('key-dialog'));

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

let prompting = null;

/** Shows the key dialog (once for every caller waiting); resolves when a key was entered, rejects on cancel. */
export function askForKey(reason) {
  if (prompting) return prompting;
  const d = dialog();
  const form = /** @type {HTMLFormElement} */ (document.getElementById('key-form'));
  const input = /** @type {HTMLInputElement} */ (document.getElementById('key-input'));
  document.getElementById('key-reason').textContent = reason;
  input.value = '';
  prompting = new Promise((resolve, reject) => {
    const done = (ok) => {
      form.removeEventListener('submit', onSubmit);
      document.getElementById('key-cancel').removeEventListener('click', onCancel);
      d.removeEventListener('cancel', onCancel);
      if (d.open) d.close();
      prompting = null;
      ok ? resolve() : reject(new ApiError(401, 'unauthorized', 'no admin key entered'));
    };
    const onSubmit = (e) => {
      e.preventDefault();
      const key = input.value.trim();
      if (!key) return;
      sessionStorage.setItem(KEY, key);
      done(true);
    };
    const onCancel = (e) => {
      e.preventDefault();
      done(false);
    };
    form.addEventListener('submit', onSubmit);
    document.getElementById('key-cancel').addEventListener('click', onCancel);
    d.addEventListener('cancel', onCancel);
  });
  d.showModal();
  input.focus();
  return prompting;
}

export const forgetKey = () => sessionStorage.removeItem(KEY);
export const hasKey = () => Boolean(sessionStorage.getItem(KEY));

/** GET /api/dashboard/<path>?<params> as JSON; asks for the key on 401/403 and retries. */
export async function getJson(path, params = new URLSearchParams()) {
  const qs = params.toString();
  const url = `/api/dashboard/${path}${qs ? `?${qs}` : ''}`;
  for (;;) {
    if (prompting) await prompting;
    const key = sessionStorage.getItem(KEY);
    const sentKey = key;
    let r;
    try {
      r = await fetch(url, { headers: { accept: 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) }, cache: 'no-store', credentials: 'omit' });
    } catch (e) {
      throw new ApiError(0, 'network', `the server did not answer (${e.message}): is qaforge serve running?`);
    }
    const body = await r.json().catch(() => null);
    if (r.status === 401 || r.status === 403) {
      // Another request may have got a new key in the meantime: retry with it before asking.
      if (sessionStorage.getItem(KEY) !== sentKey) continue;
      const why =
        r.status === 403
          ? `That key is not an admin key (${body?.error?.message ?? 'forbidden'}): enter an admin key.`
          : sentKey
            ? `That key was refused (${body?.error?.message ?? 'unauthorized'}): enter an admin key.`
            : 'The dashboard API needs an admin key (qaforge keys create --name <you> --role admin).';
      if (sentKey) forgetKey();
      await askForKey(why);
      continue;
    }
    if (!r.ok) throw new ApiError(r.status, body?.error?.code ?? 'error', body?.error?.message ?? `HTTP ${r.status}`);
    return body;
  }
}
