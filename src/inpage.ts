// Scripts that run inside a rendered page (visit.ts). They are strings: the build has no DOM types, and they run
// in the browser, not here.

/** Timers due within this long after they are set may still bring content: the quiet wait waits for them. */
export const TIMER_HORIZON_MS = 500;
const TIMERS = `window[Symbol.for('sitemirror.timers')]`;
/** setTimeout that the timer tracking does not count (our own waits are not the page's). */
const OWN_SET_TIMEOUT = `(${TIMERS}?.setTimeout ?? setTimeout)`;
/** How many fetch() and XMLHttpRequest sends the page has made (INSTRUMENT counts them). */
export const REQUESTS_STARTED = `(window[Symbol.for('sitemirror.requestsStarted')]?.() ?? 0)`;

/**
 * Scrolls a viewport at a time (a bigger jump could skip an element an IntersectionObserver waits for) down to the
 * bottom or for `maxSteps`, two frames per position: IntersectionObserver callbacks, queued after the first frame,
 * have then run and started their requests. The timer is a backstop for a page that never paints.
 */
export const SCROLL_THROUGH = (maxSteps: number) => `(async () => {
  const root = document.scrollingElement || document.documentElement;
  const frames = () => new Promise((done) => { requestAnimationFrame(() => requestAnimationFrame(done)); ${OWN_SET_TIMEOUT}(done, 1000); });
  const requestsBefore = ${REQUESTS_STARTED};
  let steps = 0;
  while (steps < ${maxSteps} && root.scrollTop + innerHeight < root.scrollHeight - 1) {
    const before = root.scrollTop;
    window.scrollBy(0, innerHeight);
    if (root.scrollTop === before) break;
    steps++;
    await frames();
  }
  return { steps, height: root.scrollHeight, requestsStarted: ${REQUESTS_STARTED} - requestsBefore };
})()`;
/**
 * Whether scrolling can load anything: lazy images or frames, an IntersectionObserver at work, or a scroll listener
 * (INSTRUMENT notes the last two as the page sets them up). A page with none is not scrolled.
 */
export const MAY_LOAD_ON_SCROLL = `Boolean(document.querySelector('img[loading=lazy], iframe[loading=lazy]') || window[Symbol.for('sitemirror.scrollAware')] || window.onscroll || document.onscroll)`;
/**
 * Runs in every page before its own scripts; calls through to the originals. Notes what may load on scroll (see
 * MAY_LOAD_ON_SCROLL), and keeps the set of pending short timeouts and intervals (see TIMERS_SETTLED): a page with
 * none has nothing scheduled that could start a late request, so its quiet wait ends early.
 */
export const INSTRUMENT = `(() => {
  const mark = () => { window[Symbol.for('sitemirror.scrollAware')] = true; };
  const observe = IntersectionObserver.prototype.observe;
  IntersectionObserver.prototype.observe = function (...args) { mark(); return observe.apply(this, args); };
  const listen = EventTarget.prototype.addEventListener;
  EventTarget.prototype.addEventListener = function (type, ...rest) {
    if (type === 'scroll' || type === 'wheel') mark();
    return listen.call(this, type, ...rest);
  };
  // The page's own requests, counted as it makes them: under load the browser reports them to the crawler late.
  // Only those that go to the network: the browser never reports a data: URL or a URL that does not parse.
  let requestsStarted = 0;
  window[Symbol.for('sitemirror.requestsStarted')] = () => requestsStarted;
  const toNetwork = (url) => { try { return /^https?:$/.test(new URL(url, document.baseURI).protocol); } catch { return false; } };
  const nativeFetch = window.fetch;
  window.fetch = function (input, ...rest) {
    if (toNetwork(input instanceof Request ? input.url : String(input))) requestsStarted++;
    return nativeFetch.call(this, input, ...rest);
  };
  const openedUrls = new WeakMap();
  const nativeOpen = XMLHttpRequest.prototype.open;
  XMLHttpRequest.prototype.open = function (method, url, ...rest) { openedUrls.set(this, String(url)); return nativeOpen.call(this, method, url, ...rest); };
  const nativeSend = XMLHttpRequest.prototype.send;
  XMLHttpRequest.prototype.send = function (...args) { if (toNetwork(openedUrls.get(this))) requestsStarted++; return nativeSend.apply(this, args); };
  // A request the page's Content Security Policy blocks never leaves either. The browser queues this event for it, so
  // a count read just after the request was made may still hold it: visit.ts reads the count again as it waits.
  listen.call(window, 'securitypolicyviolation', (event) => {
    if (event.effectiveDirective === 'connect-src' && event.disposition === 'enforce' && toNetwork(event.blockedURI)) requestsStarted--;
  });
  const nativeSetTimeout = window.setTimeout;
  const nativeClearTimeout = window.clearTimeout;
  const pending = new Set();
  let waiters = [];
  const settled = () => {
    if (pending.size > 0) return;
    const done = waiters;
    waiters = [];
    for (const wake of done) wake();
  };
  ${TIMERS} = {
    pending: () => pending.size,
    whenSettled: (wake) => waiters.push(wake),
    setTimeout: (callback, ms) => nativeSetTimeout.call(window, callback, ms),
  };
  window.setTimeout = function (handler, delay, ...args) {
    if (typeof handler !== 'function' || (Number(delay) || 0) > ${TIMER_HORIZON_MS}) return nativeSetTimeout.call(this, handler, delay, ...args);
    const id = nativeSetTimeout.call(this, function (...given) {
      try {
        return handler.apply(this, given);
      } finally {
        pending.delete(id);
        settled();
      }
    }, delay, ...args);
    pending.add(id);
    return id;
  };
  // An interval stays pending until cleared: a page that polls keeps the wait at its longest, as before.
  const nativeSetInterval = window.setInterval;
  const nativeClearInterval = window.clearInterval;
  window.setInterval = function (handler, delay, ...args) {
    const id = nativeSetInterval.call(this, handler, delay, ...args);
    if (typeof handler === 'function' && (Number(delay) || 0) <= ${TIMER_HORIZON_MS}) pending.add(id);
    return id;
  };
  // Timeouts and intervals share their ids: either function clears either.
  const clear = (native) => function (id) {
    const result = native.call(this, id);
    if (pending.delete(id)) settled();
    return result;
  };
  window.clearTimeout = clear(nativeClearTimeout);
  window.clearInterval = clear(nativeClearInterval);
})()`;
/**
 * Whether the page had short timeouts or intervals pending: if so, resolves once they all ran or were cleared, at
 * most `maxMs` later (0: does not wait). A timer that ran may have started a request, so the caller watches the
 * network again; `requestsStarted` (fetch and XMLHttpRequest sends so far) tells it which requests to expect.
 */
export const TIMERS_SETTLED = (maxMs: number) => `(async () => {
  const timers = ${TIMERS};
  const timersRan = Boolean(timers && timers.pending() > 0 && ${maxMs} > 0) && await new Promise((done) => {
    timers.whenSettled(() => done(true));
    timers.setTimeout(() => done(true), ${maxMs});
  });
  return { timersRan, requestsStarted: ${REQUESTS_STARTED} };
})()`;
export const LOADED = `document.readyState === 'complete' || new Promise((done) => addEventListener('load', () => done(true), { once: true }))`;
export const PAGE_HEIGHT = '(document.scrollingElement || document.documentElement).scrollHeight';
export const WAIT_FOR_IMAGES = (maxMs: number) => `Promise.race([
  Promise.all(Array.from(document.images)
    .filter((image) => !image.complete && (image.loading !== 'lazy' || image.currentSrc))
    .map((image) => new Promise((done) => { image.addEventListener('load', done, { once: true }); image.addEventListener('error', done, { once: true }); }))),
  new Promise((done) => ${OWN_SET_TIMEOUT}(done, ${maxMs})),
])`;
/** The DOM as the reader sees it: CSSOM-only rules, form state and a pushState address written into the markup. */
export const SNAPSHOT = (navigatedUrl: string) => `(() => {
  for (const style of document.querySelectorAll('style')) {
    if (style.textContent.trim() !== '' || !style.sheet) continue;
    try {
      const rules = Array.from(style.sheet.cssRules, (rule) => rule.cssText).join('\\n');
      if (rules) style.textContent = rules;
    } catch {}
  }
  for (const input of document.querySelectorAll('input')) {
    if (input.type === 'checkbox' || input.type === 'radio') input.toggleAttribute('checked', input.checked);
    else if (input.type !== 'password' && input.type !== 'file' && input.value !== (input.getAttribute('value') ?? '')) input.setAttribute('value', input.value);
  }
  for (const area of document.querySelectorAll('textarea')) if (area.value !== area.textContent) area.textContent = area.value;
  const here = location.href.replace(/#.*$/, '');
  if (here !== ${JSON.stringify(navigatedUrl)} && document.head && !document.querySelector('base[href]')) {
    const base = document.createElement('base');
    base.href = here;
    document.head.prepend(base);
  }
  const doctype = document.doctype ? new XMLSerializer().serializeToString(document.doctype) + '\\n' : '';
  return doctype + document.documentElement.outerHTML;
})()`;
