//! Freezes (docs/resources.md, "Freezes"): reading their times, which one holds a
//! product in an environment, holding a step while one does, ending one early, and
//! letting one release through (break-glass).
//!
//! Times are read with jiff in the freeze's IANA zone, from the database compiled into
//! the binary (as `window` gates). A recurring freeze's `RRULE` is expanded by the
//! `rrule` crate in *floating* local time — its date-times carry the local wall-clock
//! reading, labelled UTC — and each occurrence is then placed in the zone by jiff. That
//! is RFC 5545's model (a rule repeats a local time of day across DST changes) with one
//! time-zone database for everything.

use std::time::Duration;

use chrono::{Datelike, Timelike};
use jiff::civil::DateTime as Civil;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use promenade_model::audit::AuditAction;
use promenade_model::canonical::to_yaml;
use promenade_model::diagnostic::{Code, Diagnostic, Severity};
use promenade_model::freeze::{
    BreakGlass, Freeze, FreezeSpec, FreezeState, FreezeStatus, FrozenBy,
};
use promenade_model::path::FieldPath;
use promenade_model::release::{StepDetail, StepStatus};
use promenade_model::resources::{Resource, ResourceKind};
use promenade_model::LoadedResource;
use rrule::{RRule, RRuleSet, Unvalidated};
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::audit::Record;
use crate::auth::{allow, Principal, Role};
use crate::bus::Signal;
use crate::resources::ApplyOptions;
use crate::store::{now, ReleaseRecord};
use crate::{Engine, EngineError, Result};

/// How often a held step looks again without being woken: a freeze edited or applied
/// on another replica is noticed this soon.
const LOOK_AGAIN: Duration = Duration::from_secs(5);
/// The most occurrences of a rule read for one question; a rule whose occurrences are
/// that dense within a freeze's duration is a mistake, and holding is still decided by
/// the ones read.
const OCCURRENCES: u16 = 512;

/// A freeze's times, read.
pub(crate) struct Calendar {
    zone: TimeZone,
    times: Times,
    ended_at: Option<Timestamp>,
}

enum Times {
    Once {
        start: Timestamp,
        end: Timestamp,
    },
    Recurring {
        rule: Box<RRuleSet>,
        duration: SignedDuration,
    },
}

/// One stretch of time a freeze holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Occurrence {
    pub(crate) from: Timestamp,
    pub(crate) until: Timestamp,
}

/// What is wrong with a freeze's times, and at which field of its spec.
#[derive(Debug)]
pub(crate) struct TimeProblem {
    field: FieldPath,
    message: String,
}

impl TimeProblem {
    fn at(field: FieldPath, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}

impl Calendar {
    /// Reads the spec's zone, period or schedule and `endedAt`.
    pub(crate) fn read(spec: &FreezeSpec) -> std::result::Result<Self, TimeProblem> {
        let at = FieldPath::root().key("spec");
        let zone = match &spec.timezone {
            None => TimeZone::UTC,
            Some(name) => TimeZone::get(name).map_err(|_| {
                TimeProblem::at(at.key("timezone"), format!("unknown time zone {name:?}"))
            })?,
        };
        let ended_at = spec
            .ended_at
            .as_deref()
            .map(|text| {
                text.parse::<Timestamp>().map_err(|_| {
                    TimeProblem::at(
                        at.key("endedAt"),
                        format!("expected an RFC 3339 instant like `2026-12-24T17:00:00Z`, got {text:?}"),
                    )
                })
            })
            .transpose()?;
        let times = match (&spec.period, &spec.schedule) {
            (Some(period), _) => {
                let at = at.key("period");
                let start = instant(&period.start, &zone)
                    .map_err(|message| TimeProblem::at(at.key("start"), message))?;
                let end = instant(&period.end, &zone)
                    .map_err(|message| TimeProblem::at(at.key("end"), message))?;
                if end <= start {
                    return Err(TimeProblem::at(
                        at.key("end"),
                        format!(
                            "the period ends ({}) before it starts ({})",
                            period.end, period.start
                        ),
                    ));
                }
                Times::Once { start, end }
            }
            (None, Some(schedule)) => {
                let at = at.key("schedule");
                let start = local(&schedule.start, &zone)
                    .and_then(|start| floating(start).ok_or_else(|| "out of range".to_string()))
                    .map_err(|message| TimeProblem::at(at.key("start"), message))?;
                let rule = recurrence(&schedule.rrule, start)
                    .map_err(|message| TimeProblem::at(at.key("rrule"), message))?;
                let duration = SignedDuration::try_from(schedule.duration.to_std())
                    .ok()
                    .filter(|d| d.is_positive())
                    .ok_or_else(|| {
                        TimeProblem::at(at.key("duration"), "a freeze lasts longer than nothing")
                    })?;
                Times::Recurring {
                    rule: Box::new(rule),
                    duration,
                }
            }
            (None, None) => {
                return Err(TimeProblem::at(
                    at,
                    "a freeze needs a `period` or a `schedule`",
                ))
            }
        };
        Ok(Self {
            zone,
            times,
            ended_at,
        })
    }

    /// The occurrence that holds at `now`, or else the next one that begins within
    /// `ahead`.
    pub(crate) fn occurrence(&self, now: Timestamp, ahead: SignedDuration) -> Option<Occurrence> {
        let horizon = now.checked_add(ahead).ok()?;
        let clip = |from: Timestamp, until: Timestamp| {
            let until = self.ended_at.map_or(until, |ended| until.min(ended));
            (from < until && until > now && from < horizon).then_some(Occurrence { from, until })
        };
        match &self.times {
            Times::Once { start, end } => clip(*start, *end),
            Times::Recurring { rule, duration } => {
                // Occurrences that began up to `duration` ago may hold still; a day more
                // covers a DST change between the local and the absolute reading.
                let earliest = now
                    .checked_sub(*duration)
                    .and_then(|t| t.checked_sub(SignedDuration::from_hours(24)))
                    .ok()?;
                let within = RRuleSet::clone(rule)
                    .after(floating(earliest.to_zoned(self.zone.clone()).datetime())?)
                    .before(floating(horizon.to_zoned(self.zone.clone()).datetime())?)
                    .all(OCCURRENCES);
                within.dates.iter().find_map(|start| {
                    let from = civil(start)?.to_zoned(self.zone.clone()).ok()?.timestamp();
                    clip(from, from.checked_add(*duration).ok()?)
                })
            }
        }
    }
}

/// An RFC 3339 instant, or a local date-time (`2026-12-21T00:00`, or a date alone) in
/// `zone`.
fn instant(text: &str, zone: &TimeZone) -> std::result::Result<Timestamp, String> {
    if let Ok(instant) = text.parse::<Timestamp>() {
        return Ok(instant);
    }
    let local = local(text, zone)?;
    local
        .to_zoned(zone.clone())
        .map(|z| z.timestamp())
        .map_err(|e| format!("{text:?} does not exist in the time zone: {e}"))
}

/// A local date-time in `zone`; an instant is read as its local time there.
fn local(text: &str, zone: &TimeZone) -> std::result::Result<Civil, String> {
    if let Ok(instant) = text.parse::<Timestamp>() {
        return Ok(instant.to_zoned(zone.clone()).datetime());
    }
    text.parse::<Civil>().map_err(|_| {
        format!("expected a date-time like `2026-12-21T18:00` (or with an offset), got {text:?}")
    })
}

/// The rule, validated against its first occurrence. Only the rule's own characters
/// are accepted, so nothing (a `DTSTART`, an `EXRULE` the crate would skip) rides in on
/// a second line.
fn recurrence(
    text: &str,
    start: chrono::DateTime<rrule::Tz>,
) -> std::result::Result<RRuleSet, String> {
    let text = text.trim();
    let text = text.strip_prefix("RRULE:").unwrap_or(text);
    if let Some(bad) = text
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '=' | ';' | ',' | '+' | '-')))
    {
        return Err(format!(
            "{bad:?} is not part of an RFC 5545 rule: write `FREQ=WEEKLY;BYDAY=FR` and give the first occurrence in `start`"
        ));
    }
    let rule: RRule<Unvalidated> = text
        .parse()
        .map_err(|e| format!("not an RFC 5545 recurrence rule: {e}"))?;
    let rule = rule
        .validate(start)
        .map_err(|e| format!("not an RFC 5545 recurrence rule: {e}"))?;
    Ok(RRuleSet::new(start).rrule(rule))
}

/// A local date-time as the rule expands it: the wall-clock reading, labelled UTC.
fn floating(at: Civil) -> Option<chrono::DateTime<rrule::Tz>> {
    let date = chrono::NaiveDate::from_ymd_opt(
        i32::from(at.year()),
        u32::try_from(at.month()).ok()?,
        u32::try_from(at.day()).ok()?,
    )?;
    let time = date.and_hms_opt(
        u32::try_from(at.hour()).ok()?,
        u32::try_from(at.minute()).ok()?,
        u32::try_from(at.second()).ok()?,
    )?;
    Some(time.and_utc().with_timezone(&rrule::Tz::UTC))
}

/// The local date-time a floating occurrence stands for.
fn civil(at: &chrono::DateTime<rrule::Tz>) -> Option<Civil> {
    let at = at.naive_utc();
    Civil::new(
        i16::try_from(at.year()).ok()?,
        i8::try_from(at.month()).ok()?,
        i8::try_from(at.day()).ok()?,
        i8::try_from(at.hour()).ok()?,
        i8::try_from(at.minute()).ok()?,
        i8::try_from(at.second()).ok()?,
        0,
    )
    .ok()
}

/// Problems with the times of a freeze being applied, at their lines.
pub(crate) fn check_times(loaded: &LoadedResource) -> Option<Diagnostic> {
    let Resource::Freeze(freeze) = &loaded.resource else {
        return None;
    };
    // Validation reports a missing period or schedule itself.
    if freeze.spec.period.is_none() && freeze.spec.schedule.is_none() {
        return None;
    }
    let problem = Calendar::read(&freeze.spec).err()?;
    Some(loaded.diagnostic(
        &problem.field,
        Severity::Error,
        Code::InvalidValue,
        problem.message,
    ))
}

fn rfc3339(at: Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A freeze's state at `now`, looking `ahead` for upcoming ones.
fn status(freeze: &Freeze, now: Timestamp, ahead: SignedDuration) -> FreezeStatus {
    let occurrence = Calendar::read(&freeze.spec)
        .ok()
        .and_then(|calendar| calendar.occurrence(now, ahead));
    let state = match occurrence {
        Some(o) if o.from <= now => FreezeState::Active,
        Some(_) => FreezeState::Upcoming,
        None => FreezeState::Inactive,
    };
    FreezeStatus {
        name: freeze.metadata.name.clone(),
        reason: freeze.spec.reason.clone(),
        scope: freeze.spec.scope.describe(),
        state,
        from: occurrence.map(|o| rfc3339(o.from)),
        until: occurrence.map(|o| rfc3339(o.until)),
    }
}

impl Engine {
    /// Every freeze and whether it holds now or begins within `ahead`, active ones
    /// first.
    pub async fn freezes(&self, who: &Principal, ahead: Duration) -> Result<Vec<FreezeStatus>> {
        allow(who, Role::Viewer, "reading freezes")?;
        let ahead = SignedDuration::try_from(ahead)
            .map_err(|_| EngineError::BadRequest("looking too far ahead".into()))?;
        let now = self.config().clock.now();
        let set = self.store().resource_set().await?;
        let mut all: Vec<FreezeStatus> = set.freezes().map(|f| status(f, now, ahead)).collect();
        all.sort_by_key(|f| {
            (
                f.state != FreezeState::Active,
                f.state != FreezeState::Upcoming,
            )
        });
        Ok(all)
    }

    /// Ends a freeze now: it holds nothing from this moment, and the releases it held go
    /// on. The resource stays, with `endedAt` set, as a record.
    pub async fn end_freeze(&self, who: &Principal, name: &str) -> Result<FreezeStatus> {
        allow(who, Role::to_change(ResourceKind::Freeze), "ending freezes")?;
        let set = self.store().resource_set().await?;
        let Some(freeze) = set.freeze(name) else {
            return Err(EngineError::NotFound(format!(
                "freeze {name:?} does not exist"
            )));
        };
        let now = self.config().clock.now();
        let current = status(freeze, now, SignedDuration::ZERO);
        if current.state != FreezeState::Active {
            return Err(EngineError::Conflict {
                message: format!("freeze {name:?} does not hold anything now"),
                diagnostics: Vec::new(),
            });
        }
        let mut ended = freeze.clone();
        ended.spec.ended_at = Some(rfc3339(now));
        let document = to_yaml(&Resource::Freeze(ended.clone()))
            .map_err(|e| EngineError::Internal(e.to_string()))?;
        self.apply(
            who,
            &format!("freeze {name}"),
            &document,
            &ApplyOptions::default(),
        )
        .await?;
        self.audit(
            Record::by(who, AuditAction::FreezeEnded, format!("Freeze/{name}"))
                .detail(freeze.spec.reason.clone()),
        )
        .await?;
        self.signal(Signal::Queue).await;
        Ok(status(&ended, now, SignedDuration::ZERO))
    }

    /// Lets one release through the freeze that holds it in `environment`, as a release
    /// manager or an admin, with a reason everyone sees.
    pub async fn break_glass(
        &self,
        who: &Principal,
        id: &str,
        environment: &str,
        reason: &str,
    ) -> Result<ReleaseRecord> {
        allow(
            who,
            Role::ReleaseManager,
            "letting a release through a freeze",
        )?;
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(EngineError::BadRequest(
                "letting a release through a freeze needs a reason".into(),
            ));
        }
        let release = self.load_release(id).await?;
        let step = crate::release::step_in(&release, environment)?;
        let Some(frozen) = step
            .detail
            .frozen
            .as_ref()
            .filter(|_| step.status == StepStatus::Frozen)
        else {
            return Err(EngineError::Conflict {
                message: format!(
                    "{environment} of release {id} is not held by a freeze (it is {})",
                    step.status
                ),
                diagnostics: Vec::new(),
            });
        };
        let detail = StepDetail {
            break_glass: Some(BreakGlass {
                by: who.name.clone(),
                reason: reason.to_string(),
                at: now(),
            }),
            ..StepDetail::default()
        };
        let event = self
            .store()
            .update_step_detail(id, environment, &detail)
            .await?;
        self.publish(event).await;
        self.store()
            .append_log(
                id,
                environment,
                "warn",
                &format!("let through freeze {} by {who}: {reason}", frozen.freeze),
            )
            .await?;
        self.audit(
            Record::by(who, AuditAction::FreezeBroken, id)
                .detail(format!("{environment}, freeze {}: {reason}", frozen.freeze)),
        )
        .await?;
        self.signal(Signal::Queue).await;
        self.load_release(id).await
    }

    /// The freeze that holds `product` in `environment` now, and when it ends, if one
    /// does; of several, the one that ends last.
    async fn frozen_by(
        &self,
        product: &str,
        environment: &str,
    ) -> Result<Option<(FrozenBy, Timestamp)>> {
        let set = self.store().resource_set().await?;
        let Some(place) = set.environment(environment) else {
            return Ok(None);
        };
        let now = self.config().clock.now();
        Ok(set
            .freezes()
            .filter(|f| f.spec.scope.matches(product, place))
            .filter_map(|f| {
                let occurrence = Calendar::read(&f.spec)
                    .ok()?
                    .occurrence(now, SignedDuration::ZERO)?;
                (occurrence.from <= now).then_some((f, occurrence.until))
            })
            .max_by_key(|(_, until)| *until)
            .map(|(f, until)| {
                let held = FrozenBy {
                    freeze: f.metadata.name.clone(),
                    reason: f.spec.reason.clone(),
                    until: rfc3339(until),
                };
                (held, until)
            }))
    }

    /// Holds a step that has not started, `frozen`, while a freeze holds its product in
    /// its environment: until the freeze ends or someone breaks the glass.
    pub(crate) async fn hold_while_frozen(
        &self,
        id: &str,
        environment: &str,
        product: &str,
        cancel: &CancellationToken,
    ) -> Result<()> {
        loop {
            let changed = self.queue_changes().notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let release = self.load_release(id).await?;
            let Some(step) = release.steps.iter().find(|s| s.environment == environment) else {
                return Ok(());
            };
            let held = self.frozen_by(product, environment).await?;
            let (Some((held, until)), None) = (held, &step.detail.break_glass) else {
                if step.status == StepStatus::Frozen {
                    self.store()
                        .append_log(id, environment, "info", "no longer frozen")
                        .await?;
                    let event = self
                        .store()
                        .set_step_status(id, environment, StepStatus::Waiting, None)
                        .await?;
                    self.publish(event).await;
                }
                return Ok(());
            };
            if step.status != StepStatus::Frozen || step.detail.frozen.as_ref() != Some(&held) {
                let line = format!(
                    "frozen: freeze {} holds {product} in {} until {}: {}",
                    held.freeze, environment, held.until, held.reason
                );
                info!(release = %id, %environment, "{line}");
                self.store()
                    .append_log(id, environment, "info", &line)
                    .await?;
                let detail = StepDetail {
                    frozen: Some(held),
                    ..StepDetail::default()
                };
                let event = self
                    .store()
                    .set_step_status(id, environment, StepStatus::Frozen, Some(&detail))
                    .await?;
                self.publish(event).await;
            }
            tokio::select! {
                () = self.config().clock.sleep_until(until) => {}
                () = &mut changed => {}
                () = tokio::time::sleep(LOOK_AGAIN) => {}
                () = cancel.cancelled() => return Err(EngineError::Stopped),
            }
            self.alive()?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use promenade_model::freeze::FreezeSchedule;

    fn weekly(timezone: &str) -> FreezeSpec {
        FreezeSpec {
            reason: "weekend".into(),
            scope: Default::default(),
            timezone: Some(timezone.into()),
            period: None,
            schedule: Some(FreezeSchedule {
                start: "2026-10-02T18:00".into(),
                rrule: "FREQ=WEEKLY;BYDAY=FR".into(),
                duration: "62h".parse().unwrap(),
            }),
            ended_at: None,
        }
    }

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn a_weekly_rule_keeps_its_local_hour_across_a_change_of_summer_time() {
        let calendar = Calendar::read(&weekly("Europe/Paris")).unwrap();
        // Summer time (UTC+2) the Friday before the change…
        let summer = calendar
            .occurrence(at("2026-10-23T12:00:00Z"), SignedDuration::from_hours(24))
            .unwrap();
        assert_eq!(summer.from, at("2026-10-23T16:00:00Z"));
        // …winter time (UTC+1) the Friday after; the 62 hours straddling the change are
        // 62 real hours.
        let winter = calendar
            .occurrence(at("2026-10-30T12:00:00Z"), SignedDuration::from_hours(24))
            .unwrap();
        assert_eq!(winter.from, at("2026-10-30T17:00:00Z"));
        assert_eq!(winter.until, at("2026-11-02T07:00:00Z"));
        // Tuesday: nothing holds and nothing begins within a day.
        assert_eq!(
            calendar.occurrence(at("2026-11-03T12:00:00Z"), SignedDuration::from_hours(24)),
            None
        );
    }

    #[test]
    fn an_occurrence_that_began_before_now_holds_until_its_end_or_the_freeze_ended() {
        let mut spec = weekly("UTC");
        let calendar = Calendar::read(&spec).unwrap();
        let sunday = at("2026-10-04T12:00:00Z");
        let held = calendar.occurrence(sunday, SignedDuration::ZERO).unwrap();
        assert_eq!(held.from, at("2026-10-02T18:00:00Z"));
        assert_eq!(held.until, at("2026-10-05T08:00:00Z"));
        spec.ended_at = Some("2026-10-04T13:00:00Z".into());
        let ended = Calendar::read(&spec).unwrap();
        assert_eq!(
            ended
                .occurrence(sunday, SignedDuration::ZERO)
                .unwrap()
                .until,
            at("2026-10-04T13:00:00Z")
        );
        assert_eq!(
            ended.occurrence(at("2026-10-09T19:00:00Z"), SignedDuration::ZERO),
            None,
            "an ended freeze holds no later occurrence"
        );
        // Before the first occurrence nothing holds.
        assert_eq!(
            calendar.occurrence(at("2026-10-01T12:00:00Z"), SignedDuration::ZERO),
            None
        );
    }
}
