// The booking page without reloads: the slot list follows the choices, and parts of the form
// that do not apply step aside. Without this script the same form works with plain posts.
(function () {
  "use strict";

  const form = document.getElementById("booking-form");
  if (!form) return;

  const LOCALES = { nn: "nn-NO", nb: "nb-NO", en: "en-GB" };
  const OPEN_DAYS = 3;
  const department = form.elements.namedItem("department_id");
  const specialist = form.elements.namedItem("specialist_id");
  const patient = form.elements.namedItem("patient_id");
  const duration = form.elements.namedItem("duration_minutes");
  const slots = document.getElementById("slots");
  const texts = slots.dataset;
  // The server writes the days of the search window as the page does elsewhere (Babel); the
  // browser's own formatting is the fallback, as not every browser knows nynorsk.
  const dayLabels = JSON.parse(texts.dayLabels || "{}");
  const locale = LOCALES[form.dataset.lang] || "nn-NO";
  const dayFormat = new Intl.DateTimeFormat(locale, {
    weekday: "long", day: "numeric", month: "long", year: "numeric", timeZone: form.dataset.timezone,
  });

  function checked(name) {
    const input = form.querySelector(`input[name="${name}"]:checked`);
    return input ? input.value : "";
  }

  // --- parts that apply only to some choices -------------------------------------------------

  function showPatientMode() {
    const mode = checked("patient_mode") || "existing";
    for (const part of form.querySelectorAll("[data-patient-mode]")) {
      part.hidden = part.dataset.patientMode !== mode;
    }
  }

  function showKind() {
    const joint = checked("kind") !== "guidance";
    for (const part of form.querySelectorAll("[data-joint-only]")) part.hidden = !joint;
  }

  function filterSpecialists() {
    for (const group of specialist.querySelectorAll("optgroup")) {
      const match = group.dataset.department === department.value;
      group.hidden = !match;
      group.disabled = !match;
    }
    const option = specialist.selectedOptions[0];
    if (option && option.parentElement.tagName === "OPTGROUP" && option.parentElement.disabled) {
      specialist.value = "";
    }
  }

  function setUpRelatives() {
    const rows = Array.from(form.querySelectorAll("[data-relative-row]"));
    const button = form.querySelector("[data-add-relative]");
    const filled = (row) => Array.from(row.querySelectorAll("input")).some((i) => i.value.trim());
    rows.forEach((row, i) => { row.hidden = i > 0 && !filled(row); });
    const update = () => { button.hidden = rows.every((row) => !row.hidden); };
    button.addEventListener("click", () => {
      const next = rows.find((row) => row.hidden);
      if (next) {
        next.hidden = false;
        next.querySelector("input").focus();
      }
      update();
    });
    update();
  }

  // --- the slot list ---------------------------------------------------------------------------

  let pending = null;
  let timer = 0;

  function message(text) {
    const p = document.createElement("p");
    p.className = "slots-message";
    p.id = "f-starts_at";
    p.textContent = text;
    slots.replaceChildren(p);
  }

  function renderSlots(list, chosen) {
    if (list.length === 0) return message(texts.textEmpty);
    const days = new Map();
    for (const slot of list) {
      const day = slot.starts_at.slice(0, 10);  // the API gives local time with its offset
      if (!days.has(day)) days.set(day, []);
      days.get(day).push(slot);
    }
    const wrapper = document.createElement("div");
    wrapper.className = "slot-days";
    wrapper.id = "f-starts_at";
    wrapper.setAttribute("role", "radiogroup");
    wrapper.setAttribute("aria-label", texts.textLegend);
    let index = 0;
    for (const [day, daySlots] of days) {
      const details = document.createElement("details");
      details.className = "slot-day";
      details.open = index < OPEN_DAYS || daySlots.some((s) => s.starts_at === chosen);
      const summary = document.createElement("summary");
      const name = document.createElement("span");
      name.className = "slot-day-name";
      name.textContent = dayLabels[day] || dayFormat.format(new Date(`${day}T12:00:00Z`));
      const count = document.createElement("span");
      count.className = "slot-count";
      count.textContent = texts.textCount.replace("{count}", String(daySlots.length));
      summary.append(name, " ", count);
      const grid = document.createElement("div");
      grid.className = "slot-grid";
      for (const slot of daySlots) {
        const label = document.createElement("label");
        label.className = "slot";
        const input = document.createElement("input");
        input.type = "radio";
        input.name = "starts_at";
        input.value = slot.starts_at;
        input.checked = slot.starts_at === chosen;
        const time = document.createElement("span");
        time.textContent = slot.starts_at.slice(11, 16);
        label.append(input, time);
        grid.append(label);
      }
      details.append(summary, grid);
      wrapper.append(details);
      index += 1;
    }
    slots.replaceChildren(wrapper);
  }

  async function refreshSlots() {
    if (pending) pending.abort();
    if (!department.value) return message(texts.textChoose);
    const chosen = checked("starts_at");
    const query = new URLSearchParams({
      department_id: department.value, duration_minutes: duration.value, days: "28",
    });
    if (specialist.value) query.set("specialist_id", specialist.value);
    if (checked("patient_mode") !== "new" && patient.value) query.set("patient_id", patient.value);
    pending = new AbortController();
    slots.setAttribute("aria-busy", "true");
    message(texts.textLoading);
    try {
      const response = await fetch(`${form.dataset.slotsUrl}?${query}`, {
        credentials: "same-origin", headers: { Accept: "application/json" }, signal: pending.signal,
      });
      if (!response.ok) throw new Error(String(response.status));
      renderSlots(await response.json(), chosen);
    } catch (error) {
      if (error.name !== "AbortError") message(texts.textFailed);
    } finally {
      slots.removeAttribute("aria-busy");
    }
  }

  function refreshSoon() {
    window.clearTimeout(timer);
    timer = window.setTimeout(refreshSlots, 200);
  }

  // --- wiring ------------------------------------------------------------------------------------

  // With the script, «Show free times» refreshes in place instead of posting the form back.
  form.querySelector("[data-show-slots]").addEventListener("click", (event) => {
    event.preventDefault();
    refreshSlots();
  });
  department.addEventListener("change", () => { filterSpecialists(); refreshSoon(); });
  for (const input of [specialist, patient, duration]) input.addEventListener("change", refreshSoon);
  // The chosen patient's stored contact details, to check and complete before booking.
  const contactEmail = form.elements.namedItem("patient_contact.email");
  const contactPhone = form.elements.namedItem("patient_contact.phone");
  patient.addEventListener("change", () => {
    const option = patient.selectedOptions[0];
    contactEmail.value = option ? option.dataset.email || "" : "";
    contactPhone.value = option ? option.dataset.phone || "" : "";
    // The usual way from the patient's municipality, unless the GP chose one already.
    const mode = form.elements.namedItem("patient_travel.mode");
    if (option && option.dataset.travelMode && !mode.dataset.chosen) mode.value = option.dataset.travelMode;
    const from = document.getElementById("travel-from");
    const place = option ? option.dataset.travelFrom || "" : "";
    from.querySelector("[data-travel-from]").textContent = place;
    from.hidden = !place;
  });
  form.elements.namedItem("patient_travel.mode").addEventListener("change", (event) => {
    event.target.dataset.chosen = "yes";
  });
  for (const radio of form.querySelectorAll('input[name="patient_mode"]')) {
    radio.addEventListener("change", () => { showPatientMode(); refreshSoon(); });
  }
  for (const radio of form.querySelectorAll('input[name="kind"]')) {
    radio.addEventListener("change", showKind);
  }

  filterSpecialists();
  showPatientMode();
  showKind();
  setUpRelatives();
  // The server already listed the slots for these choices; fetch only when it has not.
  if (department.value && !slots.querySelector(".slot-days")) refreshSlots();
})();
