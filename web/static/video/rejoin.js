// A reload of the join page lands on /bli-med (the link was taken out of the address bar):
// reopen the call with the link this tab kept, or leave the page asking for the link again.
'use strict';

(() => {
  let token;
  try {
    token = sessionStorage.getItem('samkons.join');
  } catch (err) {
    token = null;
  }
  if (token && /^[A-Za-z0-9_-]+$/.test(token)) {
    location.replace(`/bli-med/${token}`);
  }
})();
