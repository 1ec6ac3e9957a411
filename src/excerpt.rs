//! What of a source file a terminal may be shown. A finding's snippet is drawn from the file's text,
//! which can hold anything a user saved: a 70 KB line (miette's graphical handler pads columns with a
//! format width, which panics past 65,535) or control bytes that would move the cursor, clear the
//! screen or retitle the window. An [`Excerpt`] is the text with every long line cut down to windows
//! around the labelled offsets and every control character replaced by a visible stand-in, plus the
//! map from offsets in the file to offsets in the excerpt, so that labels still point at their value.

/// Lines longer than this (in bytes) are cut down to windows around the labelled offsets.
pub const MAX_LINE: usize = 240;
/// Bytes kept on each side of a labelled offset in a cut line.
const WINDOW: usize = 60;
/// What stands for the cut-out part of a line.
const ELISION: &str = "…";

/// A display copy of a source text and the offsets that map into it.
#[derive(Debug)]
pub struct Excerpt {
    pub text: String,
    /// Offset in the file, offset in the excerpt, and whether the piece that starts there is a copy
    /// (offsets inside map one to one) or an elision (they all map to its start); sorted.
    anchors: Vec<(usize, usize, bool)>,
}

impl Excerpt {
    /// The display copy of `text` for labels at `offsets` (starts and ends of spans).
    pub fn new(text: &str, offsets: &[usize]) -> Excerpt {
        let mut points: Vec<usize> = offsets.iter().map(|&o| o.min(text.len())).collect();
        points.sort_unstable();
        points.dedup();
        let mut excerpt = Excerpt {
            text: String::with_capacity(text.len().min(1 << 20)),
            anchors: Vec::new(),
        };
        let mut line_start = 0;
        for line in text.split_inclusive('\n') {
            let line_end = line_start + line.len();
            if line.len() > MAX_LINE {
                excerpt.push_cut_line(text, line_start, line_end, &points);
            } else {
                excerpt.push_piece(text, line_start, line_end);
            }
            line_start = line_end;
        }
        excerpt
            .anchors
            .push((text.len(), excerpt.text.len(), false));
        excerpt
    }

    /// The offset in the excerpt of an offset in the file: exact inside a copied piece, the start of
    /// the elision inside a cut-out part.
    pub fn map(&self, offset: usize) -> usize {
        let i = self.anchors.partition_point(|&(from, _, _)| from <= offset);
        let Some(&(from, to, copy)) = i.checked_sub(1).and_then(|i| self.anchors.get(i)) else {
            return 0;
        };
        if !copy {
            return to;
        }
        let next = self.anchors.get(i).map_or(self.text.len(), |&(_, t, _)| t);
        (to + (offset - from)).min(next)
    }

    /// Keeps the windows of a long line around the labelled offsets in it (or its start if none).
    fn push_cut_line(&mut self, text: &str, start: usize, end: usize, points: &[usize]) {
        let mut windows: Vec<(usize, usize)> = Vec::new();
        // An offset at the end of a line that has a line break is the start of the next line.
        let last = if text[..end].ends_with('\n') {
            end - 1
        } else {
            end
        };
        let inside: Vec<usize> = points
            .iter()
            .copied()
            .filter(|&p| p >= start && p <= last)
            .collect();
        let anchors = if inside.is_empty() {
            vec![start]
        } else {
            inside
        };
        for p in anchors {
            let from = floor_char(text, p.saturating_sub(WINDOW).max(start));
            let to = ceil_char(text, (p + WINDOW).min(end));
            match windows.last_mut() {
                Some(last) if from <= last.1 => last.1 = last.1.max(to),
                _ => windows.push((from, to)),
            }
        }
        let mut at = start;
        for (from, to) in windows {
            if from > at {
                self.anchors.push((at, self.text.len(), false));
                self.text.push_str(ELISION);
            }
            self.push_piece(text, from, to);
            at = to;
        }
        if at < end {
            self.anchors.push((at, self.text.len(), false));
            self.text.push_str(ELISION);
            // The line break itself stays, so that line numbers do not change.
            if text[..end].ends_with('\n') {
                self.push_piece(text, end - 1, end);
            }
        }
    }

    /// Copies `text[from..to]`, replacing control characters so that none reaches a terminal.
    fn push_piece(&mut self, text: &str, from: usize, to: usize) {
        let piece = &text[from..to];
        let mut chars = piece.char_indices().peekable();
        let mut copied = from;
        self.anchors.push((from, self.text.len(), true));
        while let Some((i, c)) = chars.next() {
            // A carriage return that ends a line (CRLF) is a line break, not a control to show.
            let line_break = c == '\r' && chars.peek().is_some_and(|&(_, n)| n == '\n');
            let Some(visible) = stand_in(c).filter(|_| !line_break) else {
                continue;
            };
            self.text.push_str(&piece[copied - from..i]);
            self.anchors.push((from + i, self.text.len(), true));
            self.text.push(visible);
            copied = from + i + c.len_utf8();
            self.anchors.push((copied, self.text.len(), true));
        }
        self.text.push_str(&piece[copied - from..]);
    }
}

fn floor_char(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_char(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// Control characters other than line feed and tab, which a terminal would act on.
fn needs_stand_in(c: char) -> bool {
    c.is_control() && c != '\n' && c != '\t'
}

/// The visible stand-in of a control character: its Unicode control picture (`␛` for escape), or
/// the replacement character for the C1 controls, which have none.
pub fn stand_in(c: char) -> Option<char> {
    if !needs_stand_in(c) {
        return None;
    }
    Some(match c as u32 {
        code @ 0..=0x1f => char::from_u32(0x2400 + code).unwrap_or('\u{fffd}'),
        0x7f => '\u{2421}',
        _ => '\u{fffd}',
    })
}

/// `text` with every control character but line feed and tab replaced by its stand-in: for anything
/// printed to a terminal that may hold user input (messages quote keys and values).
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(needs_stand_in) {
        return std::borrow::Cow::Borrowed(text);
    }
    text.chars()
        .map(|c| stand_in(c).unwrap_or(c))
        .collect::<String>()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_kept_and_offsets_map_to_themselves() {
        let text = "a = 1\nb = \"two\"\n";
        let excerpt = Excerpt::new(text, &[6, 15]);
        assert_eq!(excerpt.text, text);
        for offset in 0..=text.len() {
            assert_eq!(excerpt.map(offset), offset);
        }
    }

    #[test]
    fn long_line_is_cut_around_the_label_and_keeps_its_line() {
        let text = format!("a = 1\nb = \"{}x\"\nc = 3\n", "y".repeat(70_000));
        let x = text.find('x').unwrap();
        let excerpt = Excerpt::new(&text, &[x, x + 1]);
        assert!(excerpt.text.len() < 400, "{}", excerpt.text.len());
        assert_eq!(excerpt.text.lines().count(), 3);
        assert_eq!(&excerpt.text[excerpt.map(x)..excerpt.map(x + 1)], "x");
        assert!(excerpt.text.ends_with("\nc = 3\n"));
        let line = excerpt.text.lines().nth(1).unwrap();
        assert!(line.starts_with('…') && line.ends_with("x\""), "{line}");
    }

    #[test]
    fn long_line_without_label_keeps_its_start() {
        let text = format!("{}\nz", "q".repeat(1000));
        let excerpt = Excerpt::new(&text, &[text.len() - 1]);
        assert_eq!(excerpt.text, format!("{}…\nz", "q".repeat(WINDOW)));
        assert_eq!(&excerpt.text[excerpt.map(text.len() - 1)..], "z");
    }

    #[test]
    fn cuts_never_split_a_character() {
        let text = "é".repeat(500);
        let excerpt = Excerpt::new(&text, &[501, 0]);
        assert!(excerpt.text.is_char_boundary(excerpt.map(500)));
    }

    #[test]
    fn control_characters_become_visible() {
        let text = "a = \"\u{1b}[2J\u{7}\u{85}\"\r\nb\r";
        let excerpt = Excerpt::new(text, &[4, 11]);
        assert_eq!(excerpt.text, "a = \"␛[2J␇\u{fffd}\"\r\nb␍");
        assert_eq!(&excerpt.text[excerpt.map(5)..excerpt.map(6)], "␛");
        assert_eq!(&excerpt.text[excerpt.map(6)..excerpt.map(8)], "[2");
        assert_eq!(printable("bell\u{7}\n"), "bell␇\n");
        assert_eq!(excerpt.map(text.len()), excerpt.text.len());
    }
}
