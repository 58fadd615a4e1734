/*
 * webleads snippet: pageviews (also in single-page apps), form conversions, custom events, consent.
 * User documentation: the README section "Embed on your site".
 *
 * This is the readable source. snippet/__init__.py strips its comments and whitespace (minify()) and
 * puts the collector's beacon path in place of BEACON_PATH, and its pixel path followed by "?" in place
 * of PIXEL_QUERY. The result must stay within 1,100 bytes gzip -9 (tests/browser/test_snippet_build.py):
 * every byte goes to every visitor, so names are short and the code is tight on purpose. For the
 * stripper: no template literals, and a regular expression literal only after one of ( , = : [ ! & | ? { } ;
 *
 * Legend: s this <script> element, D its data-* attributes, h location, n navigator, L localStorage (a
 * plain object when the browser refuses storage), K and I the only two keys this script ever stores
 * (the visitor id after consent, the staff opt-out), l and at the path and address of the last counted
 * pageview, k and v a form field, C the event_id of the last conversion sent (a form keeps its own as
 * form.W), S(f) f made unable to throw into the page,
 * X(type, name, props) sends an event, V() counts a pageview if the path changed, A(command, ...) the
 * public API (A.A marks it as the real one).
 *
 * Skipping is done by throwing a reason: S catches it and, with data-debug, logs it.
 */
(() => {
  try {
    // The tag pasted twice (theme header and a plugin): the first copy counts, this one stops.
    if (window.webleads?.A) return;
    var s = document.currentScript,
      D = s.dataset,
      h = location,
      n = navigator,
      K = "webleads_id",
      I = "webleads_ignore",
      L, l, at, k, v, C,
      // The referrer of the current page: document.referrer, then the previous address in an SPA.
      referrer = document.referrer,

      S = f => (...a) => {
        try {
          f(...a);
        } catch (x) {
          "debug" in D && console.log("webleads:", x);
        }
      },

      // The visitor id exists only after consent: its creation time (ms) "-" a random number. It
      // expires 393 days after it was set (the shortest span of 13 calendar months) and is never
      // renewed: a new consent after that makes a new id. (Timestamps of 13 digits compare as text.)
      id = () => (L[K] < Date.now() - 33955e6 + "" && delete L[K], L[K]),

      // o, a parameter no caller passes, is this event's own: the pixel fallback runs after the POST
      // failed, when later events may already be on their way, and must carry this one.
      // A verdict (type "status": a form plugin's word on a conversion) names its conversion by the
      // random event_id only conversions carry (type[9]: "conversion" is the only type that long;
      // an undefined id is left out of the JSON). Other events go without one: the collector makes it.
      X = (type, name = "", props, visitor_id = id(), o) => {
        if (n.doNotTrack == 1 || n.globalPrivacyControl || L[I]) throw "DNT, GPC or opt-out";
        if (!visitor_id && D.consent) throw "no consent yet";
        if (type == "status" && !(props = {of: props ?? C}).of) throw "no conversion";
        // A text/plain POST needs no CORS preflight; keepalive lets it outlive the page (a form that
        // navigates). When it cannot leave (a CSP, the network), the GET pixel is tried: it reads
        // site, type, name, url and referrer (an empty name is no name). Not sendBeacon: Chrome
        // answers true even when a CSP blocks it, so nothing could fall back.
        fetch(new URL(BEACON_PATH, s.src), {method: "POST", keepalive: 1, mode: "no-cors",
          body: JSON.stringify(o = {site: D.site, type, name, props, url: h.href, referrer, visitor_id,
            event_id: type[9] && (C = Math.random() + ""),
            // An automation hint: the collector flags the event as a bot's, it never drops it.
            bot: n.webdriver})})
          .catch(_ => new Image().src = new URL(PIXEL_QUERY, s.src) + new URLSearchParams(o));
      },

      // Called on load and then polled: a pageview when the path (with data-hash, path and hash)
      // differs from the last one counted. Polling sees pushState, replaceState, back/forward and
      // hash routes alike, even from routers that kept their own reference to pushState. A
      // prerendered page is counted once it is shown.
      V = S(p => document.prerendering
        || (p = h.pathname + ("hash" in D ? h.hash : "")) == l
        || (at && (referrer = at), at = h.href, l = p, X("pageview"))),

      // A new consent counts the page again under the new id, so that the consented journey starts at
      // its landing (say a campaign's page); with data-consent it is the first count.
      A = S((c, a, b) => c == "consent"
        ? a == "granted" ? id() || (L[K] = Date.now() + "-" + Math.random(), l = at = 0, V()) : delete L[K]
        : c && X(c, a, b));

    // A browser that refuses this site any storage gets a plain object: a consent lasts a page.
    try {
      L = localStorage;
    } catch {
      L = {};
    }
    // The staff's opt-out: open the site once at /#webleads_ignore.
    h.hash == "#" + I && (L[I] = 1);
    // Calls made before this script loaded (the stub's queue) come first: an early consent then
    // applies to the first pageview.
    window.webleads?.q?.map(c => A(...c));
    (window.webleads = A).A = 1;
    setInterval(V, 250, V());
    // A page restored from the back/forward cache is viewed again.
    addEventListener("pageshow", e => e.persisted && (l = at = 0));

    // Forms, in the capture phase: before page scripts can stop the event (AJAX forms). FormData
    // holds what the form sends (checked boxes only, no buttons). Only the fields named in
    // data-webleads-capture are kept, and never hidden, password or payment ones: their type, name
    // and autocomplete are searched (f[k] is the field, or a list of radio buttons). A file field
    // gives its file name.
    addEventListener("submit", S((e, f = e.target, F = f.dataset, p = {}) => {
      if ("webleadsIgnore" in F) throw "form ignored";
      for ([k, v] of new FormData(f))
        F.webleadsCapture?.split(/[\s,]+/).includes(k)
          && !/hidden|pass|pwd|cc-|card|cv[cv]|iban/i.test(f[k].type + k + f[k].autocomplete)
          && (p[k] = v.name ?? v.slice(0, 500));
      X("conversion", F.webleadsConversion || f.getAttribute("id") || f.getAttribute("name") || "form", p);
      f.W = C;
    }), 1);

    // Contact Form 7's verdict on a submission, a bubbling event on the form (after its fetch), for the
    // conversion that form sent, in CF7's words: wpcf7mailsent is "sent", wpcf7spam "spam"... A form
    // that sent none (ignored, no consent) gives 0, not the page's last conversion.
    "mailsent mailfailed invalid unaccepted spam aborted".split(" ").map(k =>
      addEventListener("wpcf7" + k, S(e => X("status", k.replace("mail", ""), e.target.W || 0))));

  } catch {}
})();
