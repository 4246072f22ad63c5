//! Team files and user settings: every kind of mistake gives its message (snapshotted), the
//! layers stack in the documented order, and the examples in config/ load.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use agentmux::agent::{AgentOptions, Billing, PermissionMode};
use agentmux::config::{Layers, Settings, Team};

/// The error message for a team file's text, with the temp dir replaced by `<dir>`.
fn mistake(text: &str) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("web")).expect("mkdir");
    let err = Team::parse_str(text, Path::new("team.toml"), dir.path(), &Layers::default())
        .expect_err("the file has a mistake");
    err.to_string().replace(&dir.path().display().to_string(), "<dir>")
}

#[test]
fn unknown_key_in_an_agent() {
    insta::assert_snapshot!(mistake(
        "[[agent]]\nname = \"a\"\n\n[[agent]]\nname = \"web\"\nmodle = \"opus\"\n"
    ));
}

#[test]
fn unknown_top_level_table() {
    insta::assert_snapshot!(mistake("[[agents]]\nname = \"a\"\n"));
}

#[test]
fn unknown_subtable_of_an_agent() {
    insta::assert_snapshot!(mistake(
        "[[agent]]\nname = \"a\"\n\n[agent.options]\nmodel = \"opus\"\n"
    ));
}

#[test]
fn unknown_key_in_defaults() {
    insta::assert_snapshot!(mistake("[defaults]\nmodel = \"opus\"\nname = \"x\"\n"));
}

#[test]
fn wrong_type_for_a_number() {
    insta::assert_snapshot!(mistake("[[agent]]\nname = \"a\"\nmax_turns = \"five\"\n"));
}

#[test]
fn wrong_type_for_a_list() {
    insta::assert_snapshot!(mistake("[[agent]]\nname = \"a\"\nallowed_tools = \"Read\"\n"));
}

#[test]
fn wrong_type_inside_a_multiline_list() {
    insta::assert_snapshot!(mistake("[defaults]\ndisallowed_tools = [\n  \"Bash\",\n  3,\n]\n"));
}

#[test]
fn unknown_permission_mode() {
    insta::assert_snapshot!(mistake("[supervisor]\npermission_mode = \"readonly\"\n"));
}

#[test]
fn unknown_billing() {
    insta::assert_snapshot!(mistake("[defaults]\nbilling = \"free\"\n"));
}

#[test]
fn duplicate_agent_names() {
    insta::assert_snapshot!(mistake(
        "[[agent]]\nname = \"web\"\n\n[[agent]]\nname = \"api\"\n\n[[agent]]\nname = \"web\"\n"
    ));
}

#[test]
fn supervisor_named_like_an_agent() {
    insta::assert_snapshot!(mistake("[supervisor]\nname = \"web\"\n\n[[agent]]\nname = \"web\"\n"));
}

#[test]
fn missing_agent_name() {
    insta::assert_snapshot!(mistake("[[agent]]\nrole = \"coder\"\n"));
}

#[test]
fn unusable_agent_name() {
    insta::assert_snapshot!(mistake("[[agent]]\nname = \"my agent/1\"\n"));
}

/// `x/y` and `x-y`, `x--y` and `x-y`, `Api` and `api` would each end on one worktree (or one
/// log on a case-insensitive file system): the first of each pair is refused, by one rule.
#[test]
fn names_that_would_share_a_worktree_are_refused() {
    let errors = [
        mistake("[[agent]]\nname = \"x/y\"\n\n[[agent]]\nname = \"x-y\"\n"),
        mistake("[[agent]]\nname = \"x--y\"\n"),
        mistake("[[agent]]\nname = \"x.\"\n"),
        mistake("[[agent]]\nname = \"main.lock\"\n"),
        mistake("[[agent]]\nname = \"api\"\n\n[[agent]]\nname = \"Api\"\n"),
        mistake("[[agent]]\nname = \"w\"\ncount = 2\n\n[[agent]]\nname = \"W-2\"\n"),
        mistake("[supervisor]\nname = \"Lead\"\n\n[[agent]]\nname = \"lead\"\n"),
    ];
    insta::assert_snapshot!(errors.join("\n"));
}

#[test]
fn missing_directory() {
    insta::assert_snapshot!(mistake("[[agent]]\nname = \"a\"\ncwd = \"frontend\"\n"));
}

#[test]
fn missing_add_dir() {
    insta::assert_snapshot!(mistake("[defaults]\nadd_dirs = [\"web\", \"../nowhere\"]\n"));
}

#[test]
fn forbidden_env_ld_preload() {
    insta::assert_snapshot!(mistake(
        "[[agent]]\nname = \"a\"\nenv = { FOO = \"1\", LD_PRELOAD = \"/tmp/x.so\" }\n"
    ));
}

#[test]
fn forbidden_env_dyld_in_a_subtable() {
    insta::assert_snapshot!(mistake(
        "[[agent]]\nname = \"a\"\n\n[agent.env]\nDYLD_INSERT_LIBRARIES = \"x\"\n"
    ));
}

#[test]
fn forbidden_env_node_options_in_defaults() {
    insta::assert_snapshot!(mistake("[defaults.env]\nNODE_OPTIONS = \"--require x\"\n"));
}

#[test]
fn forbidden_env_bash_env_and_ld_audit() {
    insta::assert_snapshot!(mistake(
        "[[agent]]\nname = \"a\"\nenv = { BASH_ENV = \"/tmp/x.sh\" }\n"
    ));
    let ld_audit = mistake("[defaults.env]\nLD_AUDIT = \"/tmp/x.so\"\n");
    assert!(ld_audit.contains("LD_AUDIT") && ld_audit.contains("libraries"), "{ld_audit}");
    let env = mistake("[supervisor]\nenv = { ENV = \"/tmp/x.sh\" }\n");
    assert!(env.contains("ENV") && env.contains("shell"), "{env}");
}

#[test]
fn forbidden_env_ld_library_path() {
    insta::assert_snapshot!(mistake("[supervisor]\nenv = { LD_LIBRARY_PATH = \"/x\" }\n"));
}

#[test]
fn negative_budget() {
    insta::assert_snapshot!(mistake("[[agent]]\nname = \"a\"\nmax_budget_usd = -1\n"));
}

#[test]
fn toml_syntax_error() {
    insta::assert_snapshot!(mistake("[[agent]]\nname = \"a\nrole = \"x\"\n"));
}

#[test]
fn settings_key_binding_must_be_a_string() {
    let err = Settings::parse_str(
        "theme = \"dark\"\n\n[keys]\nquit = \"ctrl-q\"\nhelp = [\"?\", \"f1\"]\nzoom = 3\n",
        Path::new("config.toml"),
    )
    .expect_err("a number is not a key");
    insta::assert_snapshot!(err.to_string());
}

#[test]
fn settings_unknown_key() {
    let err = Settings::parse_str("colour = \"dark\"\n", Path::new("config.toml"))
        .expect_err("unknown key");
    insta::assert_snapshot!(err.to_string());
}

#[test]
fn layers_stack_user_then_team_then_agent_then_command_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("web")).expect("mkdir");
    let text = r#"
[defaults]
model = "sonnet"
max_turns = 10
env = { TEAM = "1", SHARED = "team" }

[[agent]]
name = "web"
cwd = "web"
max_turns = 20
env = { SHARED = "agent" }
prompt = "start"
worktree = true

[[agent]]
name = "plain"
"#;
    let layers = Layers {
        user: AgentOptions {
            model: Some("haiku".into()),
            billing: Some(Billing::Api),
            max_budget_usd: Some(3.0),
            ..Default::default()
        },
        command_line: AgentOptions {
            permission_mode: Some(PermissionMode::Plan),
            max_budget_usd: Some(1.5),
            ..Default::default()
        },
    };
    let team = Team::parse_str(text, Path::new("team.toml"), dir.path(), &layers).expect("valid");
    assert!(team.supervisor.is_none());
    assert_eq!(team.agents.len(), 2);
    let web = &team.agents[0];
    assert_eq!(web.spec.name, "web");
    assert_eq!(web.spec.cwd, std::fs::canonicalize(dir.path().join("web")).expect("canon"));
    assert_eq!(web.prompt.as_deref(), Some("start"));
    assert!(web.worktree);
    let o = &web.spec.options;
    assert_eq!(o.model.as_deref(), Some("sonnet"), "team defaults beat user settings");
    assert_eq!(o.max_turns, Some(20), "the agent beats team defaults");
    assert_eq!(o.billing, Some(Billing::Api), "user settings fill what nobody else sets");
    assert_eq!(o.max_budget_usd, Some(1.5), "the command line beats everything");
    assert_eq!(o.permission_mode, Some(PermissionMode::Plan));
    let env = o.env.clone().unwrap_or_default();
    assert_eq!(
        env,
        BTreeMap::from([("SHARED".to_string(), "agent".to_string()), ("TEAM".into(), "1".into())])
    );
    let plain = &team.agents[1];
    assert_eq!(plain.spec.cwd, dir.path());
    assert_eq!(plain.spec.options.max_turns, Some(10));
    assert!(!plain.worktree);
    assert_eq!(team.defaults.model.as_deref(), Some("sonnet"));
    assert_eq!(team.defaults.max_budget_usd, Some(1.5));
}

#[test]
fn supervisor_guard_rails_and_defaults() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = "[supervisor]\nprompt = \"go\"\nmax_relay_depth = 5\nteam_budget_usd = 7\n";
    let team =
        Team::parse_str(text, Path::new("t.toml"), dir.path(), &Layers::default()).expect("valid");
    let sup = team.supervisor.expect("a supervisor");
    assert_eq!(sup.spec.name, "supervisor");
    assert_eq!(sup.prompt.as_deref(), Some("go"));
    assert_eq!(sup.max_relay_depth, 5);
    assert_eq!(sup.team_budget_usd, Some(7.0));
    assert_eq!(sup.report_chars, agentmux::config::SupervisorConfig::DEFAULT_REPORT_CHARS);
    assert_eq!(sup.relay_batch_ms, 30_000);

    let text = "[supervisor]\nrelay_batch_seconds = 5\n";
    let team =
        Team::parse_str(text, Path::new("t.toml"), dir.path(), &Layers::default()).expect("valid");
    assert_eq!(team.supervisor.expect("a supervisor").relay_batch_ms, 5_000);
}

#[test]
fn a_relay_batch_of_more_than_an_hour() {
    insta::assert_snapshot!(mistake("[supervisor]\nrelay_batch_seconds = 7200\n"));
}

#[test]
fn live_process_limits_from_a_team_file_and_settings() {
    use agentmux::config::LiveLimits;
    use std::time::Duration;
    let dir = tempfile::tempdir().expect("tempdir");
    let team_of = |text: &str| {
        Team::parse_str(text, Path::new("t.toml"), dir.path(), &Layers::default())
            .expect("valid")
            .live
    };
    assert_eq!(team_of(""), LiveLimits::default());
    let cases = [
        ("idle_timeout = 3\n", Some(180), None),
        ("idle_timeout = \"90s\"\nmax_live = 4\n", Some(90), Some(4)),
        ("idle_timeout = \"2h\"\n", Some(7200), None),
        ("idle_timeout = \"10m\"\nmax_live = 1\n", Some(600), Some(1)),
        ("max_live = 256\n[[agent]]\nname = \"a\"\n", None, Some(256)),
    ];
    for (text, secs, max) in cases {
        let want = LiveLimits { idle_timeout: secs.map(Duration::from_secs), max_live: max };
        assert_eq!(team_of(text), want, "{text}");
    }
    let settings =
        Settings::parse_str("idle_timeout = \"45s\"\nmax_live = 3\n", Path::new("c.toml"))
            .expect("valid");
    assert_eq!(
        settings.live,
        LiveLimits { idle_timeout: Some(Duration::from_secs(45)), max_live: Some(3) }
    );
}

#[test]
fn bad_live_process_limits() {
    for text in [
        "idle_timeout = 0\n",
        "idle_timeout = -5\n",
        "idle_timeout = \"10 minutes\"\n",
        "idle_timeout = \"25h\"\n",
        "idle_timeout = 1.5\n",
        "max_live = 0\n",
        "max_live = 1000\n",
    ] {
        let message = mistake(text);
        let key = if text.starts_with("idle") { "idle_timeout" } else { "max_live" };
        assert!(message.starts_with("team.toml:1:"), "{message}");
        assert!(message.contains(&format!("key `{key}`")), "{message}");
    }
    insta::assert_snapshot!("bad_idle_timeout", mistake("idle_timeout = \"10 minutes\"\n"));
    insta::assert_snapshot!("bad_max_live", mistake("\nmax_live = 0\n"));
    let err = Settings::parse_str("max_live = -1\n", Path::new("config.toml")).expect_err("bad");
    assert!(err.to_string().contains("key `max_live`"), "{err}");
}

#[test]
fn settings_load_from_the_config_dir_and_keep_keys_raw() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("config.toml");
    std::fs::write(
        &path,
        "theme = \"light\"\nclaude = \"bin/claude\"\n\n[defaults]\nmodel = \"opus\"\n\n[keys]\nquit = \"ctrl-q\"\n",
    )
    .expect("write");
    let s = Settings::load_from(&path).expect("valid");
    assert_eq!(s.theme.as_deref(), Some("light"));
    assert_eq!(s.defaults.model.as_deref(), Some("opus"));
    assert_eq!(s.keys.get("quit").and_then(|v| v.as_str()), Some("ctrl-q"));
    assert_eq!(s.claude, Some(dir.path().join("bin/claude")));
    assert_eq!(s.path, Some(path));
    // No file: default settings, not an error.
    let none = Settings::load_from(&dir.path().join("absent.toml")).expect("defaults");
    assert_eq!(none, Settings::default());
}

fn examples() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("config/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_example_loads() {
    let files = examples();
    assert!(files.len() >= 3, "examples: {files:?}");
    for file in files {
        let team = Team::load(&file, &Layers::default())
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert!(!team.agents.is_empty(), "{} has agents", file.display());
        assert_eq!(team.path.as_deref(), std::fs::canonicalize(&file).ok().as_deref());
    }
}

#[test]
fn examples_say_what_they_promise() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    let load = |name: &str| {
        Team::load(&dir.join(name), &Layers::default()).unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    let fb = load("supervisor-frontend-backend.toml");
    let names: Vec<_> = fb.agents.iter().map(|a| a.spec.name.as_str()).collect();
    assert_eq!(names, ["frontend", "backend"]);
    assert!(fb.supervisor.is_some());

    let solo = load("solo.toml");
    assert_eq!(solo.agents.len(), 1);
    assert!(solo.supervisor.is_none());
    assert!(solo.agents[0].prompt.is_some());

    let rev = load("reviewers.toml");
    assert!(rev.agents.len() >= 2);
    for a in &rev.agents {
        assert_eq!(a.spec.options.permission_mode, Some(PermissionMode::Plan), "{}", a.spec.name);
        let denied = a.spec.options.disallowed_tools.clone().unwrap_or_default();
        for tool in ["Edit", "Write", "Bash"] {
            assert!(denied.iter().any(|d| d == tool), "{} denies {tool}", a.spec.name);
        }
    }
}

#[test]
fn the_command_line_finds_the_team_and_the_workspace_key() {
    use agentmux::cli::{plan_open, OpenArgs};
    use agentmux::store::WorkspaceKey;
    // The only test here that reads the user's settings: point it at a file of our own.
    let config = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        config.path().join("config.toml"),
        "[defaults]\nmodel = \"haiku\"\nmax_turns = 3\n",
    )
    .expect("write");
    std::env::set_var("AGENTMUX_CONFIG_DIR", config.path());

    let project = tempfile::tempdir().expect("tempdir");
    let dir = std::fs::canonicalize(project.path()).expect("canon");
    // No team file: an empty team, keyed by the directory.
    let plan = plan_open(&OpenArgs::default(), &dir).expect("plan");
    assert!(plan.team.agents.is_empty() && plan.team.path.is_none());
    assert_eq!(plan.key, WorkspaceKey::Directory(dir.clone()));
    assert_eq!(plan.team.defaults.model.as_deref(), Some("haiku"), "user settings apply");

    // ./agentmux.toml is picked up; the command line wins over the file and the settings.
    std::fs::write(
        dir.join("agentmux.toml"),
        "[defaults]\nmodel = \"opus\"\n[[agent]]\nname = \"a\"\n",
    )
    .expect("write");
    let args = OpenArgs { max_turns: Some(9), ..OpenArgs::default() };
    let plan = plan_open(&args, &dir).expect("plan");
    assert_eq!(plan.team.path.as_deref(), Some(dir.join("agentmux.toml").as_path()));
    assert_eq!(plan.key, WorkspaceKey::TeamFile(dir.join("agentmux.toml")));
    let o = &plan.team.agents[0].spec.options;
    assert_eq!((o.model.as_deref(), o.max_turns), (Some("opus"), Some(9)));

    // -c FILE relative to the directory, and --workspace NAME.
    std::fs::write(dir.join("other.toml"), "[[agent]]\nname = \"b\"\n").expect("write");
    let args = OpenArgs {
        config: Some("other.toml".into()),
        workspace: Some("mine".into()),
        ..OpenArgs::default()
    };
    let plan = plan_open(&args, &dir).expect("plan");
    assert_eq!(plan.team.agents[0].spec.name, "b");
    assert_eq!(plan.key, WorkspaceKey::Named("mine".into()));
    let bad = OpenArgs { workspace: Some("../up".into()), ..OpenArgs::default() };
    let err = plan_open(&bad, &dir).expect_err("bad name");
    assert_eq!(err.exit_code(), 2);

    // A project's team file needs the user's yes; one in the user's config dir does not.
    use agentmux::config::trust::Standing;
    let standing = |plan: &agentmux::cli::OpenPlan| plan.trust.as_ref().map(|t| t.standing.clone());
    assert_eq!(standing(&plan), Some(Standing::New));
    let mine = config.path().join("mine.toml");
    std::fs::write(&mine, "[[agent]]\nname = \"c\"\n").expect("write");
    let args = OpenArgs { config: Some(mine), ..OpenArgs::default() };
    assert_eq!(standing(&plan_open(&args, &dir).expect("plan")), Some(Standing::Own));
    assert_eq!(
        standing(&plan_open(&OpenArgs::default(), &project.path().join("none")).expect("plan")),
        None
    );
}

#[test]
fn approvals_can_be_turned_off_for_the_team_or_one_agent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let parse = |text: &str| {
        Team::parse_str(text, Path::new("team.toml"), dir.path(), &Layers::default())
            .expect("valid team file")
    };
    let team = parse("[[agent]]\nname = \"a\"\n");
    assert_eq!(team.agents[0].spec.options.approvals, None, "on unless said otherwise");
    let team = parse("approvals = false\n\n[[agent]]\nname = \"a\"\n");
    assert_eq!(team.agents[0].spec.options.approvals, Some(false));
    let team = parse(
        "approvals = false\n\n[[agent]]\nname = \"a\"\napprovals = true\n\n[[agent]]\nname = \"b\"\n",
    );
    assert_eq!(team.agents[0].spec.options.approvals, Some(true));
    assert_eq!(team.agents[1].spec.options.approvals, Some(false));
    let team = parse("[defaults]\napprovals = false\n\n[[agent]]\nname = \"a\"\n");
    assert_eq!(team.agents[0].spec.options.approvals, Some(false));
    let err = Team::parse_str(
        "approvals = \"no\"\n",
        Path::new("team.toml"),
        dir.path(),
        &Layers::default(),
    )
    .expect_err("a string is not a bool");
    assert!(err.to_string().contains("approvals"), "{err}");
}

#[test]
fn settings_notify() {
    use agentmux::config::Notify;
    let parse = |t: &str| Settings::parse_str(t, Path::new("config.toml"));
    assert_eq!(parse("").expect("empty").notify, Notify::Off);
    for (text, want) in [
        ("notify = \"bell\"\n", Notify::Bell),
        ("notify = \"osc9\"\n", Notify::Osc9),
        ("notify = \"osc777\"\n", Notify::Osc777),
        ("notify = \"off\"\n", Notify::Off),
    ] {
        assert_eq!(parse(text).expect(text).notify, want, "{text}");
    }
    let err = parse("notify = \"loud\"\n").expect_err("not a notify style");
    assert!(err.to_string().contains("notify"), "{err}");
}

#[test]
fn toml_syntax_error_in_a_table_header_is_one_line() {
    let text = mistake("[agent\nname = \"a\"\n");
    assert_eq!(text.lines().count(), 1, "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn settings_keys_accept_dotted_context_names_unquoted() {
    // `form.submit` unquoted is a nested table in TOML; it means the same as "form.submit".
    let s = Settings::parse_str(
        "[keys]\nquit = \"ctrl-x\"\nform.submit = \"ctrl-s\"\n\"help.close\" = [\"q\"]\n",
        Path::new("config.toml"),
    )
    .expect("dotted keys are bindings");
    let form = s.keys.get("form").and_then(|v| v.as_table()).expect("form table kept raw");
    assert_eq!(form.get("submit").and_then(|v| v.as_str()), Some("ctrl-s"));
    let pairs = agentmux::run::key_table(&s.keys);
    assert!(pairs.contains(&("form.submit".to_string(), vec!["ctrl-s".to_string()])), "{pairs:?}");
    // A wrong value inside the nested table is still named in full.
    let err = Settings::parse_str("[keys]\nform.submit = 3\n", Path::new("config.toml"))
        .expect_err("a number is not a key");
    insta::assert_snapshot!(err.to_string());
}

/// The names a team file's agents get, in order.
fn names(text: &str) -> Vec<String> {
    let dir = tempfile::tempdir().expect("tempdir");
    let team = Team::parse_str(text, Path::new("team.toml"), dir.path(), &Layers::default())
        .expect("a valid team file");
    team.agents.into_iter().map(|a| a.spec.name).collect()
}

#[test]
fn count_makes_numbered_agents_alike() {
    let cases: [(&str, &[&str]); 3] = [
        ("[[agent]]\nname = \"w\"\ncount = 3\n", &["w-1", "w-2", "w-3"]),
        ("[[agent]]\nname = \"w\"\ncount = 1\n", &["w-1"]),
        ("[[agent]]\nname = \"a\"\n[[agent]]\nname = \"w\"\ncount = 2\n[[agent]]\nname = \"z\"\n", &["a", "w-1", "w-2", "z"]),
    ];
    for (text, want) in cases {
        assert_eq!(names(text), want, "{text}");
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let text = "[defaults]\nmodel = \"haiku\"\n[[agent]]\nname = \"w\"\ncount = 2\nprompt = \"go\"\nmax_turns = 4\nworktree = true\n";
    let team = Team::parse_str(text, Path::new("team.toml"), dir.path(), &Layers::default())
        .expect("valid");
    for agent in &team.agents {
        assert_eq!(agent.prompt.as_deref(), Some("go"));
        assert!(agent.worktree);
        assert_eq!(agent.spec.options.max_turns, Some(4));
        assert_eq!(agent.spec.options.model.as_deref(), Some("haiku"));
    }
}

#[test]
fn bad_counts_and_their_collisions() {
    let long = "x".repeat(62);
    let cases = [
        ("count_zero", "[[agent]]\nname = \"w\"\ncount = 0\n".to_string()),
        ("count_negative", "[[agent]]\nname = \"w\"\ncount = -2\n".to_string()),
        ("count_too_many", "[[agent]]\nname = \"w\"\ncount = 10000\n".to_string()),
        ("count_not_a_number", "[[agent]]\nname = \"w\"\ncount = \"8\"\n".to_string()),
        ("count_name_too_long", format!("[[agent]]\nname = \"{long}\"\ncount = 10\n")),
        (
            "count_makes_a_written_name",
            "[[agent]]\nname = \"w-2\"\n\n[[agent]]\nname = \"w\"\ncount = 3\n".to_string(),
        ),
        (
            "written_name_a_count_made",
            "[[agent]]\nname = \"w\"\ncount = 3\n\n[[agent]]\nname = \"w-3\"\n".to_string(),
        ),
        (
            "two_counts_alike",
            "[[agent]]\nname = \"w\"\ncount = 2\n\n[[agent]]\nname = \"w\"\ncount = 5\n"
                .to_string(),
        ),
        (
            "supervisor_named_like_a_counted_agent",
            "[supervisor]\nname = \"w-1\"\n\n[[agent]]\nname = \"w\"\ncount = 2\n".to_string(),
        ),
    ];
    for (name, text) in cases {
        insta::assert_snapshot!(name, mistake(&text), &text);
    }
}

#[test]
fn nice_out_of_range() {
    for (name, text) in [
        ("nice_above_19", "[defaults]\nnice = 20\n"),
        ("nice_negative", "[[agent]]\nname = \"a\"\nnice = -5\n"),
    ] {
        insta::assert_snapshot!(name, mistake(text), text);
    }
}

#[test]
fn nice_layers_like_any_option() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = "[defaults]\nnice = 5\n[[agent]]\nname = \"a\"\n[[agent]]\nname = \"b\"\nnice = 0\n";
    let team = Team::parse_str(text, Path::new("team.toml"), dir.path(), &Layers::default())
        .expect("valid");
    let nice: Vec<u8> = team.agents.iter().map(|a| a.spec.options.nice()).collect();
    assert_eq!(nice, [5, 0]);
    let plain = names("[[agent]]\nname = \"a\"\n");
    assert_eq!(plain, ["a"]);
    assert_eq!(AgentOptions::default().nice(), AgentOptions::DEFAULT_NICE);
}

#[test]
fn the_engine_is_live_unless_a_team_or_an_agent_says_oneshot() {
    use agentmux::agent::Engine;
    let dir = tempfile::tempdir().expect("tempdir");
    let engines = |text: &str| -> Vec<Engine> {
        Team::parse_str(text, Path::new("team.toml"), dir.path(), &Layers::default())
            .expect("valid team file")
            .agents
            .iter()
            .map(|a| a.spec.options.engine())
            .collect()
    };
    assert_eq!(engines("[[agent]]\nname = \"a\"\n"), [Engine::Live]);
    let text = "[defaults]\nengine = \"oneshot\"\n[[agent]]\nname = \"a\"\n[[agent]]\nname = \"b\"\nengine = \"live\"\n";
    assert_eq!(engines(text), [Engine::Oneshot, Engine::Live]);
    let err = Team::parse_str(
        "[[agent]]\nname = \"a\"\nengine = \"fast\"\n",
        Path::new("team.toml"),
        dir.path(),
        &Layers::default(),
    )
    .expect_err("an unknown engine");
    assert!(err.to_string().contains("engine"), "{err}");
}

/// `[limits] pause_at` in a team file or the settings (the team's wins), `priority` per agent
/// over `[defaults]`; a percentage out of range names the key.
#[test]
fn limits_pause_at_and_priority() {
    let dir = tempfile::tempdir().expect("tempdir");
    let team = |text: &str| {
        Team::parse_str(text, Path::new("team.toml"), dir.path(), &Layers::default())
            .expect("a good team file")
    };
    let t = team(
        "[limits]\npause_at = 90\n\n[defaults]\npriority = 1\n\n[[agent]]\nname = \"a\"\n\n\
         [[agent]]\nname = \"b\"\npriority = -2\n",
    );
    assert_eq!(t.limits.pause_at, Some(90));
    let priorities: Vec<_> = t.agents.iter().map(|a| a.spec.options.priority).collect();
    assert_eq!(priorities, [Some(1), Some(-2)]);
    let unset = team("[[agent]]\nname = \"a\"\n");
    assert_eq!(unset.limits.pause_at, None);
    let settings = Settings::parse_str("[limits]\npause_at = 80\n", Path::new("config.toml"))
        .expect("good settings");
    assert_eq!(t.limits.over(settings.limits).pause_at, Some(90));
    assert_eq!(unset.limits.over(settings.limits).pause_at, Some(80));
    let err = mistake("[limits]\npause_at = 120\n");
    assert!(
        err.contains("key `pause_at`: expected a percentage from 1 to 100, found 120"),
        "{err}"
    );
    let err = mistake("[limits]\npause = 90\n");
    assert!(err.contains("pause"), "{err}");
}
