"""Seeded, realistic simulator of LEAP survey submissions (event v1), with the truth behind them.

Why: every later part (ingestion, expectations, dbt marts, Rasch scoring, growth) needs a stream
that looks like production *and* whose generating parameters are known, so tests can check that
the pipeline stores each valid submission once and that calibration recovers item thresholds,
person measures and school growth.

What is simulated (all from one ``numpy.random.Generator`` tree seeded by ``SimConfig.seed``; no
global randomness, so the same config and seed give byte-identical records):

- **Schools** ``SCH-0001`` … in the samples of ``samples.csv`` (national probability sample, NextGen,
  LEAP network), each with grade band, region and urbanicity. National schools follow
  ``population_margins.csv``; NextGen and LEAP network schools are mostly urban (LEAP mostly midwest).
- **Respondents** ``T-<school>-<n>`` / ``S-<school>-<n>``, stable across terms (fall and spring can be
  matched), with attrition between terms and new arrivals. Students carry optional demographics.
- **Class sections** ``SCH-0001-C01`` … per school (about one per ``students_per_classroom`` students, at
  least two): a student belongs to one, a teacher reports on 1–4 (subject teachers share sections), stable
  across terms; ``classroom_share`` of respondents send them as ``classroom_ids``.
- **Responses** from the polytomous Rasch (partial credit) model. Each item of each instrument has a
  location ~ N(0, 0.8) plus ordered step offsets; each respondent has a measure per component
  (LF, LD, LL and the unscaled LC) = school mean + person deviation. School means are higher on
  LD/LL for NextGen and LEAP network schools; **true growth fall→spring differs by school and
  component** (~ N(0.25, 0.2) logits, some schools exactly 0, some large). Skipped items are null.
- **Stream realism**: ``submitted_at`` inside the term's administration window (a school-specific
  two-week slot on weekdays, US school hours); resubmissions (same ``submission_id``, same bytes,
  shortly after); respondents answering twice in a term (new ``submission_id``, later time);
  a configurable share of malformed events covering every dead-letter reason of
  :data:`ingestion.contract.REASONS`. Every record says whether it is valid and, if not, the reason
  :func:`ingestion.contract.check_submission` gives.
- **Weights** only on national-sample submissions: population cell total (region × grade band, from
  the margins) over respondents in the cell, times a per-school non-response factor.
- **Enrolment** (the partner's roster): expected respondents per school, term and instrument = respondents
  over the school's response rate (~ Beta(5, 2)); :meth:`SimulationResult.enrolment`, :func:`write_enrolment`.

Modules: :mod:`~simulator.config` (what to simulate), :mod:`~simulator.population` (schools, rosters,
slots, weights), :mod:`~simulator.stream` (responses and events), :mod:`~simulator.malformed`,
:mod:`~simulator.truth`, :mod:`~simulator.result`. Producing to Kafka and the partner file format are
the ingestion side's (:mod:`ingestion.producer`, :mod:`ingestion.partner_files`).
"""

from simulator.config import SimConfig
from simulator.result import EnrolmentRow, SimRecord, SimulationResult, write_enrolment
from simulator.stream import draw_pcm, simulate, write_jsonl
from simulator.truth import Truth, write_truth

__all__ = ["EnrolmentRow", "SimConfig", "SimRecord", "SimulationResult", "Truth", "draw_pcm", "simulate",
           "write_enrolment", "write_jsonl", "write_truth"]
