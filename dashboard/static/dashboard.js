// webleads dashboard: the few things that need a script. Every page works without it.
// - funnel builder: add and remove step rows, suggestions that follow the step's kind;
// - link builder: the link updates as you type (same naming rule as the server), copy button;
// - privacy notices: a copy button per site.
(function () {
  'use strict';

  // --- funnel step builder ---------------------------------------------------------------------
  var steps = document.getElementById('steps');
  if (steps) {
    var list = steps.querySelector('ol');
    var follow = function (row) {
      var kind = row.querySelector('select[name=kind]');
      var input = row.querySelector('input[name=pattern]');
      kind.addEventListener('change', function () { input.setAttribute('list', 'suggest-' + kind.value); });
      var remove = row.querySelector('[data-remove-step]');
      remove.hidden = false;
      remove.addEventListener('click', function () {
        if (list.children.length > 1) { row.remove(); } else { input.value = ''; }
      });
    };
    Array.prototype.forEach.call(list.children, follow);
    var made = list.children.length;  // ids of new rows never repeat one in use
    var add = steps.querySelector('[data-add-step]');
    add.hidden = false;
    add.addEventListener('click', function () {
      var last = list.lastElementChild;
      var row = last.cloneNode(true);
      made += 1;
      var n = made;
      Array.prototype.forEach.call(row.querySelectorAll('[id]'), function (el) {
        el.id = el.id.replace(/-\d+$/, '-' + n);
      });
      Array.prototype.forEach.call(row.querySelectorAll('label[for]'), function (el) {
        el.htmlFor = el.htmlFor.replace(/-\d+$/, '-' + n);
      });
      var hint = row.querySelector('.sr-only');
      if (hint) { hint.textContent = hint.textContent.replace(/\d+/, String(list.children.length + 1)); }
      row.querySelector('input[name=pattern]').value = '';
      list.appendChild(row);
      follow(row);
      row.querySelector('input[name=pattern]').focus();
    });
  }

  // --- campaign link builder -------------------------------------------------------------------
  var builder = document.getElementById('builder');
  var result = document.getElementById('result');
  var link = document.getElementById('link');
  var normalise = function (text) {
    return text.trim().toLowerCase().replace(/œ/g, 'oe').replace(/æ/g, 'ae').replace(/ß/g, 'ss').normalize('NFKD').replace(/[\u0300-\u036f]/g, '')
      .replace(/[^a-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 100);
  };
  if (builder && result && link) {
    var update = function () {
      var url;
      try { url = new URL(builder.elements.url.value.trim()); } catch (e) { return; }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') { return; }
      var values = {};
      ['source', 'medium', 'campaign', 'content'].forEach(function (name) {
        values[name] = normalise(builder.elements[name].value);
      });
      if (!values.source || !values.medium || !values.campaign) { return; }
      ['source', 'medium', 'campaign', 'content'].forEach(function (name) {
        url.searchParams.delete('utm_' + name);
        if (values[name]) { url.searchParams.set('utm_' + name, values[name]); }
      });
      link.value = url.toString();
      result.hidden = false;
    };
    builder.addEventListener('input', update);
    Array.prototype.forEach.call(builder.querySelectorAll('[data-normalise]'), function (input) {
      input.addEventListener('change', function () { input.value = normalise(input.value); update(); });
    });
  }
  // --- copy buttons of the privacy notices (the text stays selectable without them) --------------
  Array.prototype.forEach.call(document.querySelectorAll('button[data-copy-text]'), function (button) {
    var source = document.getElementById(button.getAttribute('data-copy-text'));
    var row = button.parentNode;
    var said = row.querySelector('.copy-status');
    var tell = function (ok) { said.textContent = row.getAttribute(ok ? 'data-copied' : 'data-copy-fail'); };
    var select = function () {
      var range = document.createRange();
      range.selectNodeContents(source);
      var chosen = window.getSelection();
      chosen.removeAllRanges();
      chosen.addRange(range);
      return document.execCommand && document.execCommand('copy');
    };
    button.hidden = false;
    button.addEventListener('click', function () {
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(source.textContent).then(function () { tell(true); },
          function () { tell(select()); });
      } else {
        tell(select());
      }
    });
  });

  var copy = document.getElementById('copy');
  if (copy && link) {
    var status = document.getElementById('copy-status');
    var done = function (ok) { status.textContent = result.getAttribute(ok ? 'data-copied' : 'data-copy-fail'); };
    copy.addEventListener('click', function () {
      link.select();
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(link.value).then(function () { done(true); }, function () {
          done(document.execCommand && document.execCommand('copy'));
        });
      } else {
        done(document.execCommand && document.execCommand('copy'));
      }
    });
  }
})();
