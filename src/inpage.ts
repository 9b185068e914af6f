// Scripts that run inside a rendered page (visit.ts). They are strings: the build has no DOM types, and they run
// in the browser, not here.

/**
 * Scrolls a viewport at a time (a bigger jump could skip an element an IntersectionObserver waits for) down to the
 * bottom or for `maxSteps`, two frames per position: IntersectionObserver callbacks, queued after the first frame,
 * have then run and started their requests. The timer is a backstop for a page that never paints.
 */
export const SCROLL_THROUGH = (maxSteps: number) => `(async () => {
  const root = document.scrollingElement || document.documentElement;
  const frames = () => new Promise((done) => { requestAnimationFrame(() => requestAnimationFrame(done)); setTimeout(done, 1000); });
  let steps = 0;
  while (steps < ${maxSteps} && root.scrollTop + innerHeight < root.scrollHeight - 1) {
    const before = root.scrollTop;
    window.scrollBy(0, innerHeight);
    if (root.scrollTop === before) break;
    steps++;
    await frames();
  }
  return { steps, height: root.scrollHeight };
})()`;
/**
 * Whether scrolling can load anything: lazy images or frames, an IntersectionObserver at work, or a scroll listener
 * (INSTRUMENT notes the last two as the page sets them up). A page with none is not scrolled.
 */
export const MAY_LOAD_ON_SCROLL = `Boolean(document.querySelector('img[loading=lazy], iframe[loading=lazy]') || window[Symbol.for('sitemirror.scrollAware')] || window.onscroll || document.onscroll)`;
/** Runs in every page before its own scripts; calls through to the originals. */
export const INSTRUMENT = `(() => {
  const mark = () => { window[Symbol.for('sitemirror.scrollAware')] = true; };
  const observe = IntersectionObserver.prototype.observe;
  IntersectionObserver.prototype.observe = function (...args) { mark(); return observe.apply(this, args); };
  const listen = EventTarget.prototype.addEventListener;
  EventTarget.prototype.addEventListener = function (type, ...rest) {
    if (type === 'scroll' || type === 'wheel') mark();
    return listen.call(this, type, ...rest);
  };
})()`;
export const LOADED = `document.readyState === 'complete' || new Promise((done) => addEventListener('load', () => done(true), { once: true }))`;
export const PAGE_HEIGHT = '(document.scrollingElement || document.documentElement).scrollHeight';
export const WAIT_FOR_IMAGES = (maxMs: number) => `Promise.race([
  Promise.all(Array.from(document.images)
    .filter((image) => !image.complete && (image.loading !== 'lazy' || image.currentSrc))
    .map((image) => new Promise((done) => { image.addEventListener('load', done, { once: true }); image.addEventListener('error', done, { once: true }); }))),
  new Promise((done) => setTimeout(done, ${maxMs})),
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
