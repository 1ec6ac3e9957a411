//! The laws of the overlay merge (`plat::merge`), checked on small trees and on the repository's own
//! `platform.toml` and `environments/*.toml`:
//!
//! - an overlay's empty tables change nothing;
//! - applying an overlay key by key gives the same tree as applying it at once;
//! - plain values and arrays are replaced, tables merge deeply, named entries merge by name;
//! - `[remove]` deletes an entry before the rest of the overlay is merged, so the overlay can re-add it;
//! - compiling is deterministic.
//!
//! Trees are compared through [`plain`], a rendering without origins, because a merged value keeps
//! the location that set it and that legitimately differs between the two sides of a law. The loader
//! orders each table's keys by name (the toml crate's map) while the merge appends the keys an overlay
//! adds, so laws about content compare [`sorted`] trees and entry order is checked on its own.

use std::path::Path;

use plat::compile::{Compilation, SPEC_FILE, Selection, compile};
use plat::diag::{Diagnostics, render_human};
use plat::load;
use plat::merge::{REMOVE_KEY, apply_overlay};
use plat::node::{Key, Node, Table, Value};
use plat::source::Sources;
use plat::world::MemoryWorld;

// ---------------------------------------------------------------------------------------------
// Helpers

/// A tree rendered without origins: `{key = value, …}` in entry order, arrays in brackets.
fn plain(node: &Node) -> String {
    match &node.value {
        Value::Table(table) => {
            let entries: Vec<String> = table
                .entries
                .iter()
                .map(|(key, value)| format!("{} = {}", key.name, plain(value)))
                .collect();
            format!("{{{}}}", entries.join(", "))
        }
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(plain).collect();
            format!("[{}]", items.join(", "))
        }
        Value::String(s) => format!("{s:?}"),
        Value::Integer(i) => i.to_string(),
        Value::Float(f) => format!("{f:?}"),
        Value::Bool(b) => b.to_string(),
        Value::Datetime(d) => d.clone(),
    }
}

/// The same tree with every table's entries sorted by key, for laws that hold up to entry order.
fn sorted(node: &Node) -> Node {
    let value = match &node.value {
        Value::Table(table) => {
            let mut entries: Vec<(Key, Node)> = table
                .entries
                .iter()
                .map(|(key, value)| (key.clone(), sorted(value)))
                .collect();
            entries.sort_by(|a, b| a.0.name.cmp(&b.0.name));
            Value::Table(Table { entries })
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    };
    Node {
        value,
        ..node.clone()
    }
}

/// Parses TOML text as a file of `sources`; the text must be valid.
fn parse(sources: &mut Sources, name: &str, text: &str) -> Node {
    let file = sources.add(name, text.to_string());
    let mut diags = Diagnostics::default();
    let node = load::parse(file, sources, &mut diags);
    assert_clean(sources, diags, &format!("parsing {name}"));
    node.expect("a file without diagnostics parses")
}

/// Applies overlays in order to a copy of `base`; every merge must be free of diagnostics.
fn merged(sources: &Sources, base: &Node, overlays: impl IntoIterator<Item = Node>) -> Node {
    let mut root = base.clone();
    let mut diags = Diagnostics::default();
    for overlay in overlays {
        apply_overlay(&mut root, overlay, &mut diags);
    }
    assert_clean(sources, diags, "merging");
    root
}

fn assert_clean(sources: &Sources, diags: Diagnostics, what: &str) {
    let diags = diags.into_sorted();
    assert!(
        diags.is_empty(),
        "{what}:\n{}",
        render_human(sources, &diags)
    );
}

/// Merges `overlay` into `base` (both TOML text).
fn merge_texts(base: &str, overlay: &str) -> Node {
    let mut sources = Sources::default();
    let base = parse(&mut sources, SPEC_FILE, base);
    let overlay = parse(&mut sources, "environments/dev.toml", overlay);
    merged(&sources, &base, [overlay])
}

/// The content of `merge_texts`, regardless of entry order.
fn merge_content(base: &str, overlay: &str) -> String {
    plain(&sorted(&merge_texts(base, overlay)))
}

/// The content of TOML text, for writing the expected side of a law as TOML.
fn content(text: &str) -> String {
    plain(&sorted(&parse(
        &mut Sources::default(),
        "expected.toml",
        text,
    )))
}

/// The table at a dotted path of a tree; the test data guarantees that it exists.
fn table<'a>(root: &'a Node, dotted: &str) -> &'a Table {
    let node = dotted
        .split('.')
        .fold(root, |node, part| match &node.value {
            Value::Table(t) => t
                .get(part)
                .unwrap_or_else(|| panic!("no `{part}` in `{dotted}`")),
            _ => panic!("`{dotted}` crosses a value"),
        });
    match &node.value {
        Value::Table(t) => t,
        _ => panic!("`{dotted}` is not a table"),
    }
}

fn keys(table: &Table) -> Vec<&str> {
    table.keys().collect()
}

/// Splits an overlay into one overlay per leaf (a value that is not a table, or an empty table), each
/// keeping the tables that lead to it. `[remove]` leaves come first, because the merge applies the
/// removals of an overlay before the rest of it.
fn leaves(overlay: &Node) -> Vec<Node> {
    let mut out = leaf_paths(overlay);
    out.sort_by_key(|leaf| !is_removal(leaf));
    out
}

fn leaf_paths(node: &Node) -> Vec<Node> {
    let Value::Table(table) = &node.value else {
        return vec![node.clone()];
    };
    if table.entries.is_empty() {
        return vec![node.clone()];
    }
    table
        .entries
        .iter()
        .flat_map(|(key, child)| {
            leaf_paths(child).into_iter().map(|leaf| Node {
                value: Value::Table(Table {
                    entries: vec![(key.clone(), leaf)],
                }),
                origin: node.origin,
                replaced: None,
            })
        })
        .collect()
}

fn is_removal(overlay: &Node) -> bool {
    matches!(&overlay.value, Value::Table(t) if t.get(REMOVE_KEY).is_some())
}

/// The repository's own spec: `platform.toml` and every overlay, read once.
struct Repo {
    base: String,
    overlays: Vec<(String, String)>,
    /// The fleet's instance files (`tenants/<id>.toml`), grafted into the base by the compiler.
    instances: Vec<(String, String)>,
}

impl Repo {
    fn read() -> Repo {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let base = std::fs::read_to_string(root.join(SPEC_FILE)).unwrap();
        let mut overlays: Vec<(String, String)> = std::fs::read_dir(root.join("environments"))
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|e| e == "toml"))
            .map(|path| {
                let env = path.file_stem().unwrap().to_string_lossy().into_owned();
                (env, std::fs::read_to_string(&path).unwrap())
            })
            .collect();
        overlays.sort();
        assert!(
            !overlays.is_empty(),
            "the repository declares no environments"
        );
        let mut instances: Vec<(String, String)> = std::fs::read_dir(root.join("tenants"))
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .map(|path| {
                let name = format!("tenants/{}", path.file_name().unwrap().to_string_lossy());
                (name, std::fs::read_to_string(&path).unwrap())
            })
            .collect();
        instances.sort();
        Repo {
            base,
            overlays,
            instances,
        }
    }

    /// The base spec and the instance files, as the compiler reads them.
    fn world(&self) -> MemoryWorld {
        self.instances.iter().fold(
            MemoryWorld::default().with(SPEC_FILE, self.base.as_str()),
            |world, (path, text)| world.with(path, text.as_str()),
        )
    }

    /// The parsed base with the instance files grafted in, as the compiler merges overlays onto it.
    fn base_node(&self, sources: &mut Sources) -> Node {
        let mut base = parse(sources, SPEC_FILE, &self.base);
        let mut diags = Diagnostics::default();
        plat::compile::graft_instances(&self.world(), &mut base, sources, &mut diags);
        assert_clean(sources, diags, "grafting the instances");
        base
    }

    fn overlay(&self, env: &str) -> &str {
        &self.overlays.iter().find(|(e, _)| e == env).unwrap().1
    }

    /// Compiles the base with the given overlays as the only environments.
    fn compile(&self, overlays: &[(&str, &str)], selection: &Selection) -> Compilation {
        let world = overlays.iter().fold(self.world(), |world, (env, text)| {
            world.with(&format!("environments/{env}.toml"), *text)
        });
        compile(&world, SPEC_FILE, selection)
    }

    fn compile_all(&self) -> Compilation {
        let overlays: Vec<(&str, &str)> = self
            .overlays
            .iter()
            .map(|(env, text)| (env.as_str(), text.as_str()))
            .collect();
        self.compile(&overlays, &Selection::All)
    }

    /// The names of the base's top-level tables and of its services.
    fn tables(&self) -> (Vec<String>, Vec<String>) {
        let mut sources = Sources::default();
        let base = self.base_node(&mut sources);
        let Value::Table(root) = &base.value else {
            unreachable!("a parsed file is a table")
        };
        let top = root
            .entries
            .iter()
            .filter(|(_, v)| matches!(v.value, Value::Table(_)))
            .map(|(k, _)| k.name.clone())
            .collect();
        let services = match root.get("services").map(|n| &n.value) {
            Some(Value::Table(t)) => t.keys().map(str::to_string).collect(),
            _ => Vec::new(),
        };
        (top, services)
    }
}

/// The rendered files of a compilation that must have succeeded.
fn outputs(compilation: &Compilation, what: &str) -> Vec<(String, Vec<(String, String)>)> {
    assert!(
        !compilation.has_errors(),
        "{what} does not compile:\n{}",
        render_human(&compilation.sources, &compilation.diagnostics)
    );
    compilation
        .outputs
        .iter()
        .map(|(env, files)| (env.clone(), files.files.clone()))
        .collect()
}

/// Compares two sets of rendered files, naming the first file that differs rather than dumping both.
fn assert_same_files(
    left: &[(String, Vec<(String, String)>)],
    right: &[(String, Vec<(String, String)>)],
    what: &str,
) {
    let names = |o: &[(String, Vec<(String, String)>)]| -> Vec<String> {
        o.iter()
            .flat_map(|(env, files)| files.iter().map(move |(p, _)| format!("{env}/{p}")))
            .collect()
    };
    assert_eq!(names(left), names(right), "{what}: different files");
    for ((env, left), (_, right)) in left.iter().zip(right) {
        for ((path, a), (_, b)) in left.iter().zip(right) {
            assert!(a == b, "{what}: {env}/{path} differs");
        }
    }
}

/// The `[environment]` table of an overlay, as text: the smallest overlay that compiles.
fn environment_section(overlay: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for line in overlay.lines() {
        if line.starts_with('[') {
            inside = line.trim() == "[environment]";
        }
        if inside {
            out.push_str(line);
            out.push('\n');
        }
    }
    assert!(!out.is_empty(), "the overlay has no [environment] table");
    out
}

/// `overlay` followed by an empty header for every base table and service it does not define itself
/// (TOML forbids defining a table twice, and a table an overlay defines is not empty anyway).
fn with_empty_tables(overlay: &str, tables: &[String], services: &[String]) -> String {
    let defined = |header: &str| overlay.lines().any(|l| l.trim() == header);
    let mut out = overlay.to_string();
    let headers = tables
        .iter()
        .map(|t| format!("[{t}]"))
        .chain(services.iter().map(|s| format!("[services.{s}]")));
    for header in headers {
        if !defined(&header) {
            out.push_str(&format!("\n{header}\n"));
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// (a) Empty tables change nothing

#[test]
fn an_environment_only_overlay_changes_no_base_value() {
    let repo = Repo::read();
    let mut sources = Sources::default();
    let base = repo.base_node(&mut sources);
    let environment = environment_section(repo.overlay("dev"));
    let overlay = parse(&mut sources, "environments/dev.toml", &environment);
    let mut root = merged(&sources, &base, [overlay]);
    let Value::Table(table) = &mut root.value else {
        unreachable!("a parsed file is a table")
    };
    let index = table.position("environment").expect("the overlay adds it");
    table.entries.remove(index);
    assert_eq!(plain(&root), plain(&base));
}

#[test]
fn empty_overlay_tables_render_byte_identical_files() {
    let repo = Repo::read();
    let (tables, services) = repo.tables();
    // Prod's `[environment]` alone: its nodes hold the base spec (dev's one node needs dev's sizes).
    let environment_only = environment_section(repo.overlay("prod"));
    let overlays = std::iter::once(("environment-only", environment_only.as_str()))
        .chain(repo.overlays.iter().map(|(e, t)| (e.as_str(), t.as_str())));
    for (name, overlay) in overlays {
        let padded = with_empty_tables(overlay, &tables, &services);
        assert_ne!(padded, overlay, "{name}: nothing to pad");
        // The repository's environments are there too, unselected: an overlay may restore another
        // environment's backups (`recovery.environment`), which is read but not compiled.
        let with = |text: &str| -> Vec<(String, String)> {
            std::iter::once(("env".to_string(), text.to_string()))
                .chain(repo.overlays.iter().cloned())
                .collect()
        };
        let compile_one = |text: &str| {
            let overlays = with(text);
            let overlays: Vec<(&str, &str)> = overlays
                .iter()
                .map(|(e, t)| (e.as_str(), t.as_str()))
                .collect();
            repo.compile(&overlays, &Selection::One("env".into()))
        };
        let plain = compile_one(overlay);
        let padded = compile_one(&padded);
        assert_same_files(
            &outputs(&plain, name),
            &outputs(&padded, &format!("{name} with empty tables")),
            name,
        );
    }
}

#[test]
fn empty_tables_merge_to_the_same_tree() {
    let base = "a = 1\n[t]\nx = [1, 2]\n[t.u]\ny = \"s\"\n";
    let empty = "[t]\n[t.u]\n[t.new]\n";
    assert_eq!(
        merge_content(base, empty),
        content("a = 1\n[t]\nx = [1, 2]\n[t.u]\ny = \"s\"\n[t.new]\n"),
        "an empty table the base lacks is added, empty; the others change nothing"
    );
    assert_eq!(merge_content(base, ""), content(base));
}

// ---------------------------------------------------------------------------------------------
// (b) Key by key equals all at once

/// Applies `overlay` whole and leaf by leaf (in source order, and reversed) to `base`.
fn check_key_by_key(base_text: &str, name: &str, overlay_text: &str) {
    let mut sources = Sources::default();
    let base = parse(&mut sources, SPEC_FILE, base_text);
    check_key_by_key_on(&mut sources, base, name, overlay_text);
}

fn check_key_by_key_on(sources: &mut Sources, base: Node, name: &str, overlay_text: &str) {
    let overlay = parse(sources, name, overlay_text);
    let at_once = merged(sources, &base, [overlay.clone()]);
    let pieces = leaves(&overlay);
    assert!(pieces.len() > 1, "{name}: too small to split");
    let one_by_one = merged(sources, &base, pieces.clone());
    assert_eq!(plain(&one_by_one), plain(&at_once), "{name}: key by key");
    // Leaves are independent: any order gives the same values, only new keys land in another order.
    let (removals, rest): (Vec<Node>, Vec<Node>) = pieces.into_iter().partition(is_removal);
    let reversed = merged(
        sources,
        &base,
        removals.into_iter().chain(rest.into_iter().rev()),
    );
    assert_eq!(
        plain(&sorted(&reversed)),
        plain(&sorted(&at_once)),
        "{name}: key by key, reversed"
    );
}

#[test]
fn repository_overlays_applied_key_by_key_equal_applied_at_once() {
    let repo = Repo::read();
    for (env, overlay) in &repo.overlays {
        let mut sources = Sources::default();
        let base = repo.base_node(&mut sources);
        check_key_by_key_on(
            &mut sources,
            base,
            &format!("environments/{env}.toml"),
            overlay,
        );
    }
}

#[test]
fn small_overlay_applied_key_by_key_equals_applied_at_once() {
    let base = r#"
        n = 1
        list = [1, 2]
        [t]
        x = 1
        deep = { a = { b = 1, c = 2 } }
        [services.web]
        image = "web:1"
        [services.api]
        image = "api:1"
    "#;
    let overlay = r#"
        list = []
        n = 2
        [t.deep.a]
        c = 3
        d = 4
        [services.api]
        replicas = 2
        [services.new]
        image = "new:1"
        [remove]
        services = ["web"]
    "#;
    check_key_by_key(base, "environments/dev.toml", overlay);
}

#[test]
fn applying_an_overlay_twice_equals_applying_it_once() {
    let repo = Repo::read();
    for (env, overlay_text) in &repo.overlays {
        let mut sources = Sources::default();
        let base = repo.base_node(&mut sources);
        let mut overlay = parse(&mut sources, env, overlay_text);
        // A second removal of the same entries is an error by design (P0106), so only the rest of
        // the overlay is applied twice.
        let mut removal = None;
        if let Value::Table(table) = &mut overlay.value
            && let Some(i) = table.position(REMOVE_KEY)
        {
            removal = Some(table.entries.remove(i));
        }
        let removal = removal.map(|entry| Node {
            value: Value::Table(Table {
                entries: vec![entry],
            }),
            ..overlay.clone()
        });
        let once = merged(
            &sources,
            &base,
            removal.clone().into_iter().chain([overlay.clone()]),
        );
        let twice = merged(
            &sources,
            &base,
            removal.into_iter().chain([overlay.clone(), overlay]),
        );
        assert_eq!(plain(&twice), plain(&once), "{env}");
    }
}

// ---------------------------------------------------------------------------------------------
// (c) What wins, what replaces, what merges

#[test]
fn the_overlay_wins_for_plain_values_and_remembers_the_base_value() {
    let mut sources = Sources::default();
    let base = parse(
        &mut sources,
        SPEC_FILE,
        "s = \"base\"\nn = 1\nb = true\nkept = 7\n",
    );
    let overlay = parse(
        &mut sources,
        "environments/dev.toml",
        "s = \"overlay\"\nn = 2.5\nb = false\n",
    );
    let root = merged(&sources, &base, [overlay.clone()]);
    assert_eq!(
        plain(&sorted(&root)),
        content("s = \"overlay\"\nn = 2.5\nb = false\nkept = 7\n")
    );
    // The replaced values point at the overlay and remember the base; `kept` still points at the base.
    let (Value::Table(merged_table), Value::Table(base_table)) = (&root.value, &base.value) else {
        unreachable!("parsed files are tables")
    };
    for key in ["s", "n", "b"] {
        let node = merged_table.get(key).unwrap();
        assert_eq!(
            node.origin.file, overlay.origin.file,
            "{key} comes from the overlay"
        );
        assert_eq!(
            node.replaced,
            Some(base_table.get(key).unwrap().origin),
            "{key}"
        );
    }
    let kept = merged_table.get("kept").unwrap();
    assert_eq!(kept.origin, base_table.get("kept").unwrap().origin);
    assert_eq!(kept.replaced, None);
}

#[test]
fn arrays_are_replaced_not_appended() {
    assert_eq!(
        merge_content(
            "talks_to = [\"a\", \"b\"]\nempty = [1]\n",
            "talks_to = [\"c\"]\nempty = []\n"
        ),
        content("talks_to = [\"c\"]\nempty = []\n")
    );
    // An array of tables is an array too: it is replaced, not merged element by element.
    assert_eq!(
        merge_content(
            "[[rules]]\nport = 80\nhost = \"a\"\n[[rules]]\nport = 443\n",
            "[[rules]]\nport = 8080\n"
        ),
        content("[[rules]]\nport = 8080\n")
    );
}

#[test]
fn tables_merge_deeply() {
    let base = "[a]\nx = 1\ny = 2\n[a.b]\np = 1\nq = { r = 1, s = 2 }\n";
    let overlay = "[a]\ny = 3\n[a.b.q]\ns = 4\nt = 5\n";
    assert_eq!(
        merge_content(base, overlay),
        content("[a]\nx = 1\ny = 3\n[a.b]\np = 1\nq = { r = 1, s = 4, t = 5 }\n")
    );
    // An inline table in the overlay merges like a standard one: it does not replace the base table.
    assert_eq!(
        merge_content(base, "a = { b = { q = { s = 4, t = 5 } }, y = 3 }\n"),
        merge_content(base, overlay)
    );
}

#[test]
fn named_entries_merge_by_name() {
    let base = r#"
        [services.api]
        image = "api:1"
        replicas = 1
        [services.web]
        image = "web:1"
        replicas = 2
    "#;
    let overlay = r#"
        [services.api]
        replicas = 5
        [services.new]
        image = "new:1"
    "#;
    let expected = r#"
        [services.api]
        image = "api:1"
        replicas = 5
        [services.new]
        image = "new:1"
        [services.web]
        image = "web:1"
        replicas = 2
    "#;
    assert_eq!(merge_content(base, overlay), content(expected));
}

#[test]
fn entries_an_overlay_adds_follow_the_base_entries() {
    let merged = merge_texts(
        "[services.api]\nimage = \"api:1\"\n[services.web]\nimage = \"web:1\"\n",
        "[services.aaa]\nimage = \"aaa:1\"\n[services.web]\nreplicas = 2\n",
    );
    assert_eq!(keys(table(&merged, "services")), ["api", "web", "aaa"]);
}

// ---------------------------------------------------------------------------------------------
// (d) [remove]

const SERVICES: &str = r#"
    [services.api]
    image = "api:1"
    replicas = 2
    [services.web]
    image = "web:1"
"#;

#[test]
fn remove_deletes_named_entries() {
    assert_eq!(
        merge_content(SERVICES, "[remove]\nservices = [\"api\"]\n"),
        content("[services.web]\nimage = \"web:1\"\n")
    );
    assert_eq!(
        merge_content(SERVICES, "[remove]\nservices = [\"api\", \"web\"]\n"),
        content("[services]\n")
    );
}

#[test]
fn remove_reaches_nested_tables_by_dotted_name() {
    assert_eq!(
        merge_content(
            "[postgresql.parameters]\na = \"1\"\nb = \"2\"\n",
            "[remove]\n\"postgresql.parameters\" = [\"a\"]\n"
        ),
        content("[postgresql.parameters]\nb = \"2\"\n")
    );
}

#[test]
fn an_overlay_can_remove_an_entry_and_add_it_back_fresh() {
    // The re-added entry keeps none of the base's keys, and moves to the end of the table.
    let expected =
        content("[services.api]\nimage = \"api:2\"\n[services.web]\nimage = \"web:1\"\n");
    let remove_first = "[remove]\nservices = [\"api\"]\n[services.api]\nimage = \"api:2\"\n";
    assert_eq!(merge_content(SERVICES, remove_first), expected);
    let merged = merge_texts(SERVICES, remove_first);
    assert_eq!(keys(table(&merged, "services")), ["web", "api"]);
    // Removal happens before the rest of the overlay wherever `[remove]` stands in the file.
    let remove_last = "[services.api]\nimage = \"api:2\"\n[remove]\nservices = [\"api\"]\n";
    assert_eq!(merge_content(SERVICES, remove_last), expected);
}

#[test]
fn dev_removes_the_fleet_instances_it_lists() {
    let repo = Repo::read();
    let mut sources = Sources::default();
    let base = repo.base_node(&mut sources);
    let dev = parse(&mut sources, "environments/dev.toml", repo.overlay("dev"));
    let removals = table(&dev, REMOVE_KEY);
    let removed: Vec<String> = match &removals.get("fleets.astrbot.instances").unwrap().value {
        Value::Array(names) => names.iter().map(plain).collect(),
        _ => panic!("`remove.fleets.astrbot.instances` is an array"),
    };
    assert!(!removed.is_empty());
    let merged = merged(&sources, &base, [dev]);
    let expected: Vec<&str> = keys(table(&base, "fleets.astrbot.instances"))
        .into_iter()
        .filter(|t| !removed.contains(&format!("{t:?}")))
        .collect();
    assert_eq!(keys(table(&merged, "fleets.astrbot.instances")), expected);
}

// ---------------------------------------------------------------------------------------------
// (e) Determinism

#[test]
fn compiling_the_repository_twice_gives_identical_outputs() {
    let repo = Repo::read();
    let first = outputs(&repo.compile_all(), "the repository");
    let second = outputs(&repo.compile_all(), "the repository");
    assert_eq!(first.len(), repo.overlays.len());
    assert_same_files(&first, &second, "second compile");
}

#[test]
fn compiling_one_environment_gives_the_same_files_as_compiling_all() {
    let repo = Repo::read();
    let all = outputs(&repo.compile_all(), "the repository");
    let overlays: Vec<(&str, &str)> = repo
        .overlays
        .iter()
        .map(|(env, text)| (env.as_str(), text.as_str()))
        .collect();
    for (env, files) in &all {
        let one = repo.compile(&overlays, &Selection::One(env.clone()));
        assert_same_files(
            std::slice::from_ref(&(env.clone(), files.clone())),
            &outputs(&one, env),
            env,
        );
    }
}
