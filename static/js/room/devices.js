// Camera and microphone check, shared by the waiting room (before the room opens) and the
// room's pre-join screen: the local preview, device pickers (the choice is remembered for
// this browser, so the room uses what was tested in the waiting room) and a microphone
// level meter. Nothing here talks to the server.

const STORED = { videoinput: "skilllink.camera", audioinput: "skilllink.microphone" };

function stored(kind) {
  try {
    return localStorage.getItem(STORED[kind]) || "";
  } catch {
    return "";
  }
}

export function remember(kind, deviceId) {
  try {
    if (deviceId) localStorage.setItem(STORED[kind], deviceId);
    else localStorage.removeItem(STORED[kind]);
  } catch {
    /* private mode: the choice lasts for this page only */
  }
}

export function describeMediaError(error) {
  if (error?.name === "NotAllowedError" || error?.name === "SecurityError") {
    return "Camera and microphone are blocked for this site, so the other person can't see or hear you. Chat still works; allow access in the browser and reload to join with video.";
  }
  if (error?.name === "NotFoundError" || error?.name === "OverconstrainedError") {
    return "No camera or microphone was found. Chat still works.";
  }
  if (error?.name === "NotReadableError") {
    return "Your camera or microphone is in use by another app. Chat still works.";
  }
  return `Camera and microphone are unavailable (${error?.message || error}). Chat still works.`;
}

/** getUserMedia with the picked devices; when both were asked for and that fails, one
 * device may still work without the other (``onPartial(text)`` says which is missing). */
export async function getMedia({ audio = true, video = true, cameraSelect, micSelect, onPartial }) {
  // A device picked on this page must be the one; one remembered from an earlier page is
  // preferred (it may be unplugged since).
  const wanted = (select, kind) =>
    select?.value ? { deviceId: { exact: select.value } } : stored(kind) ? { deviceId: { ideal: stored(kind) } } : true;
  const constraintsFor = (wantAudio, wantVideo) => ({
    audio: wantAudio && wanted(micSelect, "audioinput"),
    video: wantVideo && wanted(cameraSelect, "videoinput"),
  });
  try {
    return await navigator.mediaDevices.getUserMedia(constraintsFor(audio, video));
  } catch (error) {
    if (!(audio && video)) throw error;
    for (const [onlyAudio, missing] of [
      [true, "camera"],
      [false, "microphone"],
    ]) {
      try {
        const stream = await navigator.mediaDevices.getUserMedia(constraintsFor(onlyAudio, !onlyAudio));
        onPartial?.(`Your ${missing} is unavailable (${error.name}); continuing without it.`);
        return stream;
      } catch {
        /* try the other one */
      }
    }
    throw error;
  }
}

/** Fill the pickers with the devices the browser lists (labels appear once access was
 * granted); keep the current choice, else the one remembered for this browser. */
export async function fillDeviceLists(cameraSelect, micSelect) {
  if (!navigator.mediaDevices?.enumerateDevices) return;
  const devices = await navigator.mediaDevices.enumerateDevices();
  for (const [select, kind] of [
    [cameraSelect, "videoinput"],
    [micSelect, "audioinput"],
  ]) {
    const current = select.value || stored(kind);
    const word = kind === "videoinput" ? "camera" : "microphone";
    select.replaceChildren(new Option(`Default ${word}`, ""));
    devices
      .filter((device) => device.kind === kind && device.deviceId !== "default")
      .forEach((device, index) =>
        select.append(new Option(device.label || `${word[0].toUpperCase()}${word.slice(1)} ${index + 1}`, device.deviceId)),
      );
    select.value = [...select.options].some((option) => option.value === current) ? current : "";
  }
}

/** The microphone's level on ``element`` (role="meter"): 0-100 in aria-valuenow and the
 * --level custom property, ~15 times a second. ``watch(stream)`` follows a new stream. */
export function levelMeter(element) {
  let context = null;
  let source = null;
  let timer = null;
  const analyser = { node: null, data: null };

  function show(level) {
    element.style.setProperty("--level", String(level / 100));
    element.setAttribute("aria-valuenow", String(level));
    element.setAttribute("aria-valuetext", level < 3 ? "silent" : level < 30 ? "quiet" : level < 70 ? "good" : "loud");
    element.dataset.level = String(level);
  }

  function sample() {
    if (!analyser.node) return;
    analyser.node.getFloatTimeDomainData(analyser.data);
    let sum = 0;
    for (const value of analyser.data) sum += value * value;
    const rms = Math.sqrt(sum / analyser.data.length);
    // Speech sits around 0.02-0.2 RMS: a square-root scale makes it move visibly.
    show(Math.min(100, Math.round(Math.sqrt(rms / 0.25) * 100)));
  }

  // Browsers start an AudioContext suspended until the person interacts with the page.
  const resume = () => context?.state === "suspended" && context.resume().catch(() => {});
  for (const type of ["pointerdown", "keydown"]) document.addEventListener(type, resume);

  return {
    watch(stream) {
      source?.disconnect();
      source = null;
      const track = stream?.getAudioTracks()[0];
      element.dataset.state = track ? "on" : "off";
      if (!track || !window.AudioContext) {
        show(0);
        return;
      }
      context ??= new AudioContext();
      resume();
      source = context.createMediaStreamSource(new MediaStream([track]));
      analyser.node = context.createAnalyser();
      analyser.node.fftSize = 1024;
      analyser.data = new Float32Array(analyser.node.fftSize);
      source.connect(analyser.node);
      timer ??= setInterval(sample, 66);
    },
    stop() {
      clearInterval(timer);
      timer = null;
      source?.disconnect();
      source = null;
      analyser.node = null;
      context?.close().catch(() => {});
      context = null;
      show(0);
      element.dataset.state = "off";
    },
  };
}
