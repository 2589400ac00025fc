// Amity's signing page (docs/browser-signing.md). The signatory's Ed25519 key is made by the
// browser's WebCrypto, not extractable, and kept in this browser's IndexedDB; or it is read
// from an OpenSSH key file into this page's memory. Either way the private key never leaves
// the page: what goes to the registry is the public key, statements and SSHSIG signatures.
// The SSHSIG encoding follows OpenSSH's PROTOCOL.sshsig and is checked byte for byte against
// `ssh-keygen -Y sign` by the browser test (tests/api/browser_signing.rs).
"use strict";

(function () {
  const utf8 = new TextEncoder();

  // ---- SSH wire encoding (RFC 4251 section 5) -------------------------------------------

  function concat(...parts) {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }

  function uint32(n) {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, n);
    return b;
  }

  function sshString(value) {
    const bytes = typeof value === "string" ? utf8.encode(value) : value;
    return concat(uint32(bytes.length), bytes);
  }

  function base64(bytes) {
    let s = "";
    for (const b of bytes) s += String.fromCharCode(b);
    return btoa(s);
  }

  function unbase64(text) {
    const s = atob(text);
    const out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out;
  }

  function publicKeyBlob(raw) {
    return concat(sshString("ssh-ed25519"), sshString(raw));
  }

  function publicKeyLine(raw) {
    return "ssh-ed25519 " + base64(publicKeyBlob(raw));
  }

  // `SHA256:` and unpadded base64, as `ssh-keygen -l` prints it.
  async function fingerprint(raw) {
    const digest = await crypto.subtle.digest("SHA-256", publicKeyBlob(raw));
    return "SHA256:" + base64(new Uint8Array(digest)).replace(/=+$/, "");
  }

  // ---- SSHSIG (PROTOCOL.sshsig) ----------------------------------------------------------

  const MAGIC = utf8.encode("SSHSIG");

  // What Ed25519 signs: the magic, the namespace, an empty reserved field, the hash algorithm
  // and the SHA-512 of the message.
  async function signedData(namespace, message) {
    const hash = new Uint8Array(await crypto.subtle.digest("SHA-512", message));
    return concat(MAGIC, sshString(namespace), sshString(""), sshString("sha512"), sshString(hash));
  }

  // The armored signature exactly as `ssh-keygen -Y sign` writes it: base64 in lines of 70.
  function armor(raw, namespace, signature) {
    const blob = concat(
      MAGIC,
      uint32(1),
      sshString(publicKeyBlob(raw)),
      sshString(namespace),
      sshString(""),
      sshString("sha512"),
      sshString(concat(sshString("ssh-ed25519"), sshString(signature)))
    );
    const text = base64(blob);
    let out = "-----BEGIN SSH SIGNATURE-----\n";
    for (let i = 0; i < text.length; i += 70) out += text.slice(i, i + 70) + "\n";
    return out + "-----END SSH SIGNATURE-----\n";
  }

  // key: {privateKey: CryptoKey, raw: the 32 public key bytes}.
  async function sign(key, namespace, message) {
    const data = await signedData(namespace, message);
    const signature = await crypto.subtle.sign({ name: "Ed25519" }, key.privateKey, data);
    return armor(key.raw, namespace, new Uint8Array(signature));
  }

  // ---- Keys --------------------------------------------------------------------------------

  // PKCS #8 wrapping of an Ed25519 seed (RFC 8410): the only form WebCrypto imports it in.
  const PKCS8_PREFIX = Uint8Array.from([
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
  ]);

  async function importSeed(seed, raw) {
    const privateKey = await crypto.subtle.importKey(
      "pkcs8",
      concat(PKCS8_PREFIX, seed),
      { name: "Ed25519" },
      false,
      ["sign"]
    );
    return { privateKey, raw };
  }

  // Reads an unencrypted OpenSSH Ed25519 private key file (PROTOCOL.key). Nothing of it is
  // kept but the non-extractable CryptoKey and the public key.
  async function importOpenSshKey(text) {
    const body = text
      .replace(/-----BEGIN OPENSSH PRIVATE KEY-----/, "")
      .replace(/-----END OPENSSH PRIVATE KEY-----/, "")
      .replace(/\s+/g, "");
    if (!text.includes("BEGIN OPENSSH PRIVATE KEY") || body === "") {
      throw new Error("this is not an OpenSSH private key file (it starts with -----BEGIN OPENSSH PRIVATE KEY-----)");
    }
    const bytes = unbase64(body);
    let at = 0;
    const take = (n) => {
      if (at + n > bytes.length) throw new Error("the key file is cut short");
      const out = bytes.subarray(at, at + n);
      at += n;
      return out;
    };
    const u32 = () => new DataView(take(4).slice().buffer).getUint32(0);
    const str = () => take(u32());
    const text8 = (b) => new TextDecoder().decode(b);
    if (text8(take(15)) !== "openssh-key-v1\0") throw new Error("the key file has no openssh-key-v1 header");
    const cipher = text8(str());
    if (cipher !== "none") {
      throw new Error(
        "this key file is protected by a passphrase; the page cannot decrypt it. Make an unencrypted copy for this step (ssh-keygen -p -N \"\" -f COPY) and delete the copy afterwards"
      );
    }
    str(); // kdf name ("none")
    str(); // kdf options
    if (u32() !== 1) throw new Error("the key file holds more than one key");
    str(); // public key blob, repeated inside the private section
    const section = str();
    const inner = { bytes: section, at: 0 };
    const t = (n) => {
      if (inner.at + n > section.length) throw new Error("the key file is cut short");
      const out = section.subarray(inner.at, inner.at + n);
      inner.at += n;
      return out;
    };
    const iu32 = () => new DataView(t(4).slice().buffer).getUint32(0);
    const istr = () => t(iu32());
    if (iu32() !== iu32()) throw new Error("the key file's check bytes differ (a damaged or encrypted file)");
    if (text8(istr()) !== "ssh-ed25519") throw new Error("this is not an Ed25519 key; Amity signatories use Ed25519");
    const raw = istr().slice();
    const secret = istr();
    if (raw.length !== 32 || secret.length !== 64) throw new Error("the Ed25519 key in the file has the wrong length");
    const key = await importSeed(secret.slice(0, 32), raw);
    // The file's public half must be the private key's: sign and verify once.
    const probe = utf8.encode("amity key check");
    const signature = await crypto.subtle.sign({ name: "Ed25519" }, key.privateKey, probe);
    const publicKey = await crypto.subtle.importKey("raw", raw, { name: "Ed25519" }, true, ["verify"]);
    if (!(await crypto.subtle.verify({ name: "Ed25519" }, publicKey, signature, probe))) {
      throw new Error("the key file's public key does not match its private key");
    }
    return key;
  }

  // Whether this browser's WebCrypto has Ed25519 at all.
  async function ed25519Supported() {
    if (!window.crypto || !crypto.subtle) return false;
    try {
      await crypto.subtle.importKey(
        "raw",
        unbase64("A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg="), // a valid Ed25519 public key
        { name: "Ed25519" },
        true,
        ["verify"]
      );
      return true;
    } catch (e) {
      return false;
    }
  }

  // ---- Keys kept in IndexedDB ----------------------------------------------------------------

  const DB_NAME = "amity-signing";
  const STORE = "keys";

  function openStore() {
    return new Promise((resolve, reject) => {
      const request = indexedDB.open(DB_NAME, 1);
      request.onupgradeneeded = () => request.result.createObjectStore(STORE, { keyPath: "fingerprint" });
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  }

  async function storedKeys(registry, signer) {
    const db = await openStore();
    return new Promise((resolve, reject) => {
      const request = db.transaction(STORE).objectStore(STORE).getAll();
      request.onsuccess = () =>
        resolve(request.result.filter((k) => k.registry === registry && k.signer === signer));
      request.onerror = () => reject(request.error);
    });
  }

  async function storeKey(record) {
    const db = await openStore();
    return new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, "readwrite");
      tx.objectStore(STORE).put(record);
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
    });
  }

  // ---- The page ------------------------------------------------------------------------------

  window.AmitySshsig = { sign, signedData, armor, importSeed, importOpenSshKey, fingerprint, publicKeyLine };

  const root = document.getElementById("signing");
  if (!root) return;
  const page = {
    token: root.dataset.token,
    registry: root.dataset.registry,
    signer: root.dataset.signer,
    city: root.dataset.city,
    role: root.dataset.role,
    signatureNamespace: root.dataset.signatureNamespace,
    declineNamespace: root.dataset.declineNamespace,
    keyNamespace: root.dataset.keyNamespace,
    registered: JSON.parse(root.dataset.keys || "[]"),
  };
  const api = "/api/v1/signing/" + page.token;
  const $ = (id) => document.getElementById(id);
  let key = null; // {privateKey, raw, fingerprint}
  let prepared = null; // {bytes, namespace, kind}

  function say(id, text, kind) {
    const el = $(id);
    el.textContent = text;
    el.className = kind || "";
  }

  async function problem(response) {
    try {
      return await response.json();
    } catch (e) {
      return { detail: "the registry answered " + response.status, code: "" };
    }
  }

  function statusOf(fp) {
    const found = page.registered.find((k) => k.fingerprint === fp);
    return found ? found.status : null;
  }

  async function refreshKeys() {
    const response = await fetch(api, { cache: "no-store" });
    if (response.ok) page.registered = (await response.json()).keys;
  }

  async function register(candidate) {
    say("key-status", "Registering the public key with the registry…");
    const challengeResponse = await fetch(api + "/key-challenge", { cache: "no-store" });
    if (!challengeResponse.ok) throw new Error((await problem(challengeResponse)).detail);
    const challenge = (await challengeResponse.json()).challenge;
    const line = publicKeyLine(candidate.raw);
    // Canonical JSON (RFC 8785): members sorted, no white space; every value here is a plain
    // string, which JSON.stringify writes as RFC 8785 does.
    const statement = JSON.stringify({
      action: "register",
      challenge: challenge,
      city: page.city,
      public_key: line,
      registry: page.registry,
      role: page.role,
      signer: page.signer,
      type: page.registry + "/schemas/key-event/v1",
    });
    const bytes = utf8.encode(statement);
    const signature = await sign(candidate, page.keyNamespace, bytes);
    const response = await fetch(api + "/keys", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ public_key: line, proof: { statement: base64(bytes), signature: signature } }),
    });
    if (!response.ok) throw new Error((await problem(response)).detail);
    await refreshKeys();
  }

  async function useKey(candidate) {
    key = candidate;
    $("key-fingerprint").textContent = candidate.fingerprint;
    let status = statusOf(candidate.fingerprint);
    if (status === null) {
      await register(candidate);
      status = statusOf(candidate.fingerprint);
    }
    if (status === "active") {
      say("key-status", "This key is registered and approved: you can sign.", "pass");
      await prepare(null);
    } else if (status === "pending") {
      say(
        "key-status",
        "Your public key is registered and waits for approval by the registry's administrator. Open this link again once your office tells you it is approved.",
        "pending"
      );
    } else {
      say("key-status", "This key is " + status + " and cannot sign; create a new one.", "fail");
    }
  }

  async function prepare(reason) {
    let url = api + "/statement?key=" + encodeURIComponent(key.fingerprint);
    if (reason !== null) url += "&decline_reason=" + encodeURIComponent(reason);
    const response = await fetch(url, { cache: "no-store" });
    if (!response.ok) {
      const p = await problem(response);
      say("result", p.detail + (p.code ? " (" + p.code + ")" : ""), "fail");
      return;
    }
    const bytes = new Uint8Array(await response.arrayBuffer());
    prepared = {
      bytes: bytes,
      namespace: reason === null ? page.signatureNamespace : page.declineNamespace,
      kind: reason === null ? "signature" : "decline",
    };
    $("statement").textContent = new TextDecoder().decode(bytes);
    $("statement-kind").textContent =
      reason === null
        ? "You sign these exact bytes, in the namespace " + page.signatureNamespace + ":"
        : "You decline with these exact bytes, in the namespace " + page.declineNamespace + ":";
    $("sign").textContent = reason === null ? "Sign the MOU" : "Sign the decline";
    $("sign").disabled = false;
    $("statement-section").hidden = false;
  }

  async function submit() {
    $("sign").disabled = true;
    const signature = await sign(key, prepared.namespace, prepared.bytes);
    const response = await fetch(api + "/answer", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ statement: base64(prepared.bytes), signature: signature }),
    });
    if (response.status === 201) {
      const done = await response.json();
      say(
        "result",
        (done.action === "sign" ? "Signed" : "Declined") +
          ". Log entry " + done.log_index + "; the MOU is now " + done.state + ". This link is now used up.",
        "pass"
      );
      $("statement-section").hidden = true;
      $("decline-section").hidden = true;
      return;
    }
    const p = await problem(response);
    if (p.code === "stale_chain_head") {
      // Someone signed first: the chain head moved, so the statement names a new position.
      await prepare(prepared.kind === "decline" ? $("decline-reason").value : null);
      say("result", "Another signature arrived first, so the statement changed. Check it and sign again.", "pending");
      return;
    }
    say("result", p.detail + (p.code ? " (" + p.code + ")" : ""), "fail");
    $("sign").disabled = false;
  }

  function guard(action) {
    return async (event) => {
      if (event) event.preventDefault();
      try {
        await action(event);
      } catch (e) {
        say("key-status", String(e.message || e), "fail");
      }
    };
  }

  async function start() {
    if (!(await ed25519Supported())) {
      $("unsupported").hidden = false;
      return;
    }
    $("key-section").hidden = false;
    $("decline-section").hidden = false;
    const kept = await storedKeys(page.registry, page.signer);
    // A key kept here that the registry still knows is used again; the newest first.
    kept.sort((a, b) => b.created - a.created);
    const known = kept.find((k) => statusOf(k.fingerprint) !== null) || kept[0];
    if (known) {
      say("key-status", "Found a key kept in this browser.");
      await useKey({ privateKey: known.privateKey, raw: known.raw, fingerprint: known.fingerprint });
    } else {
      say("key-status", "No key of yours is kept in this browser yet.");
    }
  }

  $("create-key").addEventListener(
    "click",
    guard(async () => {
      const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"]);
      const raw = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
      const fp = await fingerprint(raw);
      await storeKey({
        fingerprint: fp,
        privateKey: pair.privateKey,
        raw: raw,
        signer: page.signer,
        registry: page.registry,
        created: Date.now(),
      });
      await useKey({ privateKey: pair.privateKey, raw: raw, fingerprint: fp });
    })
  );

  $("key-file").addEventListener(
    "change",
    guard(async () => {
      const file = $("key-file").files[0];
      if (!file) return;
      const loaded = await importOpenSshKey(await file.text());
      $("key-file").value = "";
      loaded.fingerprint = await fingerprint(loaded.raw);
      say("key-status", "Key file read in this page (not uploaded).");
      await useKey(loaded);
    })
  );

  $("sign").addEventListener("click", guard(submit));
  $("decline").addEventListener(
    "click",
    guard(async () => {
      const reason = $("decline-reason").value.trim();
      if (reason === "") {
        say("result", "Write the reason for declining first.", "fail");
        return;
      }
      if (!key) {
        say("result", "Choose your key first.", "fail");
        return;
      }
      await prepare(reason);
    })
  );

  guard(start)();
})();
