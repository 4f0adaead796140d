// Parses an .ics with Mozilla's ical.js (the engine of Thunderbird's calendar) and prints what a
// client would understand from it, as JSON, so the Python tests can assert on a real reader.
// Usage: node parse_ics.mjs [path]   (reads standard input when no path is given)
import { readFileSync } from "node:fs";
import ICAL from "ical.js";

const text = readFileSync(process.argv[2] ?? 0, "utf8");
const calendar = new ICAL.Component(ICAL.parse(text));

// ical.js has no time zone database of its own: local times resolve only through the VTIMEZONEs
// registered here, so a correct UTC below proves the file's VTIMEZONE is right.
const timezones = calendar.getAllSubcomponents("vtimezone").map((vtimezone) => {
  ICAL.TimezoneService.register(vtimezone);
  return vtimezone.getFirstPropertyValue("tzid");
});

const params = (property) => property.toJSON()[1];

function describeTime(property) {
  const value = property.getFirstValue();
  return {
    local: value.toString(),
    utc: value.convertToZone(ICAL.Timezone.utcTimezone).toString(),
    tzid: property.getParameter("tzid") ?? null,
    zone: value.zone.tzid,
  };
}

function describeEvent(vevent) {
  const organizer = vevent.getFirstProperty("organizer");
  return {
    uid: vevent.getFirstPropertyValue("uid"),
    sequence: vevent.getFirstPropertyValue("sequence"),
    status: vevent.getFirstPropertyValue("status"),
    summary: vevent.getFirstPropertyValue("summary"),
    start: describeTime(vevent.getFirstProperty("dtstart")),
    end: describeTime(vevent.getFirstProperty("dtend")),
    url: vevent.getFirstPropertyValue("url"),
    location: vevent.getFirstPropertyValue("location"),
    description: vevent.getFirstPropertyValue("description"),
    organizer: organizer ? { value: organizer.getFirstValue(), params: params(organizer) } : null,
    attendees: vevent.getAllProperties("attendee").map((attendee) => ({
      value: attendee.getFirstValue(),
      params: params(attendee),
    })),
    alarms: vevent.getAllSubcomponents("valarm").map((alarm) => ({
      action: alarm.getFirstPropertyValue("action"),
      trigger: alarm.getFirstPropertyValue("trigger").toString(),
    })),
  };
}

const events = calendar.getAllSubcomponents("vevent").map(describeEvent);
const summary = {
  method: calendar.getFirstPropertyValue("method"),
  prodid: calendar.getFirstPropertyValue("prodid"),
  version: calendar.getFirstPropertyValue("version"),
  timezones,
  events,
};
process.stdout.write(JSON.stringify(summary, null, 2) + "\n");
