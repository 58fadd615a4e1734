// Placeholder snippet: one pageview per page load (the full snippet replaces this file).
(function(){try{var s=document.currentScript,d=s.getAttribute("data-site"),u=new URL(s.src).origin+"/e";navigator.sendBeacon(u,JSON.stringify({site:d,type:"pageview",url:location.href,referrer:document.referrer||null}))}catch(e){}})();
