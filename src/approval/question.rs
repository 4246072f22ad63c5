//! A question to the user (AskUserQuestion): the questions of a call, the user's way through
//! them, and the input the CLI gets back, the call's own with `answers` (each question's text
//! to the label picked, the labels ticked joined by ", ", or the user's own words), which the
//! model reads as "Your questions have been answered: ...".

use serde_json::Value;

/// One question of the call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Question {
    pub text: String,
    /// A short name for it (the CLI's chip), maybe empty.
    pub header: String,
    pub options: Vec<Choice>,
    /// Several options may be picked.
    pub multi: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Choice {
    pub label: String,
    pub description: String,
}

/// The call's questions; those without a text are left out (nothing could name their answer).
pub fn questions(input: &Value) -> Vec<Question> {
    let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
    let list = input.get("questions").and_then(Value::as_array).map(Vec::as_slice);
    list.unwrap_or_default()
        .iter()
        .filter(|q| q.get("question").and_then(Value::as_str).is_some())
        .map(|q| Question {
            text: s(q, "question"),
            header: s(q, "header"),
            options: q
                .get("options")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .map(|o| Choice { label: s(o, "label"), description: s(o, "description") })
                .collect(),
            multi: q.get("multiSelect").and_then(Value::as_bool).unwrap_or(false),
        })
        .collect()
}

/// Where the user is in a call's questions (plain data, kept with the waiting call).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Answering {
    /// The question shown.
    pub at: usize,
    /// Its highlighted option.
    pub cursor: usize,
    /// The options ticked (a question where several may be picked).
    pub ticked: Vec<usize>,
    /// The answers of the questions before it.
    pub answers: Vec<String>,
}

impl Answering {
    /// Moves the highlight one option up or down (it stops at the ends).
    pub fn step(&mut self, questions: &[Question], down: bool) {
        let n = questions.get(self.at).map_or(0, |q| q.options.len());
        self.cursor = if down {
            (self.cursor + 1).min(n.saturating_sub(1))
        } else {
            self.cursor.saturating_sub(1)
        };
    }

    /// Option `i` (from 0): picked at once, or ticked / unticked where several may be picked.
    /// The answered input when that was the last answer.
    pub fn pick(&mut self, input: &Value, questions: &[Question], i: usize) -> Option<Value> {
        let q = questions.get(self.at)?;
        let label = q.options.get(i)?.label.clone();
        self.cursor = i;
        if q.multi {
            match self.ticked.iter().position(|&t| t == i) {
                Some(pos) => {
                    self.ticked.remove(pos);
                }
                None => self.ticked.push(i),
            }
            return None;
        }
        self.answer(input, questions, label)
    }

    /// Ticks or unticks the highlighted option of a question where several may be picked.
    pub fn tick(&mut self, questions: &[Question]) {
        if questions.get(self.at).is_some_and(|q| q.multi) {
            let i = self.cursor;
            match self.ticked.iter().position(|&t| t == i) {
                Some(pos) => {
                    self.ticked.remove(pos);
                }
                None => self.ticked.push(i),
            }
        }
    }

    /// The highlighted option, or the ticked ones (the highlighted one when none is).
    pub fn choose(&mut self, input: &Value, questions: &[Question]) -> Option<Value> {
        let q = questions.get(self.at)?;
        let mut picked = if q.multi { self.ticked.clone() } else { Vec::new() };
        if picked.is_empty() {
            picked.push(self.cursor);
        }
        picked.sort_unstable();
        let labels: Vec<&str> =
            picked.iter().filter_map(|&i| q.options.get(i)).map(|o| o.label.as_str()).collect();
        if labels.is_empty() {
            return None;
        }
        let answer = labels.join(", ");
        self.answer(input, questions, answer)
    }

    /// The user's own words as the answer.
    pub fn write(&mut self, input: &Value, questions: &[Question], text: &str) -> Option<Value> {
        let text = text.trim();
        if text.is_empty() {
            return None;
        }
        self.answer(input, questions, text.to_owned())
    }

    fn answer(&mut self, input: &Value, questions: &[Question], answer: String) -> Option<Value> {
        self.answers.push(answer);
        self.at += 1;
        self.cursor = 0;
        self.ticked.clear();
        if self.at < questions.len() {
            return None;
        }
        answered_input(input, questions, &self.answers)
    }
}

/// The call's input with `answers`: question text -> answer, in order.
pub fn answered_input(input: &Value, questions: &[Question], answers: &[String]) -> Option<Value> {
    let mut map = serde_json::Map::new();
    for (q, a) in questions.iter().zip(answers) {
        map.insert(q.text.clone(), Value::String(a.clone()));
    }
    let mut out = input.clone();
    out.as_object_mut()?.insert("answers".into(), Value::Object(map));
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn input() -> Value {
        json!({"questions": [
            {"question": "Which color?", "header": "Color", "multiSelect": false,
             "options": [{"label": "red", "description": "warm"}, {"label": "blue"}]},
            {"question": "Which sizes?", "header": "Size", "multiSelect": true,
             "options": [{"label": "S"}, {"label": "M"}, {"label": "L"}]},
        ]})
    }

    fn with(answers: Value) -> Option<Value> {
        let mut v = input();
        v["answers"] = answers;
        Some(v)
    }

    #[derive(Clone, Copy, Debug)]
    enum Do {
        Pick(usize),
        Up,
        Down,
        Tick,
        Choose,
        Write(&'static str),
    }

    #[test]
    fn each_way_of_answering_gives_the_clis_answers() {
        use Do::*;
        let cases: &[(&[Do], Option<Value>)] = &[
            (
                &[Pick(1), Pick(0), Pick(2), Choose],
                with(json!({"Which color?": "blue", "Which sizes?": "S, L"})),
            ),
            (
                &[Down, Choose, Down, Tick, Down, Tick, Choose],
                with(json!({"Which color?": "blue", "Which sizes?": "M, L"})),
            ),
            // Nothing ticked: the highlighted option.
            (
                &[Choose, Down, Down, Down, Choose],
                with(json!({"Which color?": "red", "Which sizes?": "L"})),
            ),
            (
                &[Up, Write("  green "), Pick(1), Pick(1), Write("XL")],
                with(json!({"Which color?": "green", "Which sizes?": "XL"})),
            ),
            // Ticked twice is unticked; an option that is not there does nothing.
            (
                &[Pick(0), Pick(1), Pick(1), Pick(7), Choose],
                with(json!({"Which color?": "red", "Which sizes?": "M"})),
            ),
            (&[Pick(1)], None),
            (&[Write("   ")], None),
        ];
        let qs = questions(&input());
        for (steps, want) in cases {
            let mut a = Answering::default();
            let mut got = None;
            for step in *steps {
                got = match *step {
                    Pick(i) => a.pick(&input(), &qs, i),
                    Up => {
                        a.step(&qs, false);
                        None
                    }
                    Down => {
                        a.step(&qs, true);
                        None
                    }
                    Tick => {
                        a.tick(&qs);
                        None
                    }
                    Choose => a.choose(&input(), &qs),
                    Write(t) => a.write(&input(), &qs, t),
                };
            }
            assert_eq!(&got, want, "{steps:?}");
        }
    }

    #[test]
    fn questions_are_read_tolerantly() {
        let qs = questions(
            &json!({"questions": [{"question": "Q?", "options": "no"}, {"header": "x"}, 3]}),
        );
        assert_eq!(qs.len(), 1);
        assert_eq!((qs[0].options.len(), qs[0].multi, qs[0].header.as_str()), (0, false, ""));
        assert!(questions(&json!({})).is_empty());
        assert!(questions(&json!({"questions": {}})).is_empty());
    }
}
