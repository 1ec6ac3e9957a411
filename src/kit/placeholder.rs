//! The placeholders a fleet prototype is lowered with, and their plain substitution.
//!
//! A family of fleet instances is lowered once with placeholders for the instance id and each of
//! its values; each instance is then filled in. Slot 0 is the id, slot `i + 1` the instance's
//! `i`-th value.

/// Placeholders: lower-case letters and digits only, so that every string containing them keeps the
/// quoting it has with a real instance id (ids are DNS labels), and unlikely in any spec value.
pub const ID: &str = "zzplatidzz";
/// What every placeholder contains: text with it stands for every instance of a family.
pub const PLACEHOLDER: &str = "zzplat";

/// The placeholder of an instance's `index`-th value.
pub fn var_placeholder(index: usize) -> String {
    format!("zzplatvar{index}zz")
}

/// The placeholder at the start of `text` among `slots` slots: its slot and its length.
pub fn slot_at(text: &str, slots: usize) -> Option<(usize, usize)> {
    let end = text.get(PLACEHOLDER.len()..)?.find("zz")? + PLACEHOLDER.len() + 2;
    slot_of(&text[..end]).filter(|&(slot, _)| slot < slots)
}

/// The slot a placeholder stands for, and the placeholder's length.
fn slot_of(placeholder: &str) -> Option<(usize, usize)> {
    if placeholder == ID {
        return Some((0, ID.len()));
    }
    let index: usize = placeholder
        .strip_prefix("zzplatvar")?
        .strip_suffix("zz")?
        .parse()
        .ok()?;
    Some((index + 1, placeholder.len()))
}

/// `text` with every placeholder of one of `values`' slots replaced by its value as it is (what a
/// string holds once its YAML is read). Anything that merely looks like a placeholder stays.
pub fn fill_plain(text: &str, values: &[String]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(found) = rest.find(PLACEHOLDER) {
        out.push_str(&rest[..found]);
        let tail = &rest[found..];
        match slot_at(tail, values.len()) {
            Some((slot, len)) => {
                out.push_str(&values[slot]);
                rest = &tail[len..];
            }
            None => {
                out.push_str(PLACEHOLDER);
                rest = &tail[PLACEHOLDER.len()..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(raw: &[&str]) -> Vec<String> {
        raw.iter().map(|v| v.to_string()).collect()
    }

    #[test]
    fn every_slot_is_filled_and_look_alikes_stay() {
        let text = "app-zzplatidzz zzplatvar0zz zzplatvar7zz zzplat-x zzplatidzz";
        assert_eq!(
            fill_plain(text, &values(&["acme", "a b: \"c\""])),
            "app-acme a b: \"c\" zzplatvar7zz zzplat-x acme"
        );
    }

    #[test]
    fn a_slot_beyond_the_values_is_not_one() {
        assert_eq!(slot_at("zzplatvar1zz", 2), None);
        assert_eq!(slot_at("zzplatvar0zz tail", 2), Some((1, 12)));
        assert_eq!(slot_at("zzplatidzz", 1), Some((0, 10)));
    }
}
