//! End-to-end tests of the `pesto` binary: runs it as a user would, kills and interrupts it.

use pesto_meta::checkpoint;
use pesto_meta::metatrain::RunState;
use pesto_meta::observe::{Observer, OuterRecord, TensorBoard};
use pesto_meta::optim::SavedOptimizer;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const CONFIG: &str = r#"
seed = 5
outer_steps = 100000
checkpoint_every = 5
keep_checkpoints = 2

[tasks]
task = "mlp-synth:input=16,hidden=16,classes=4,batch=32,steps=50"

[optimizer]
kind = "mlp-lopt"

[estimator]
particles = 4
sigma = 0.01
truncation = 10

[outer]
clip_value = 3.0

[outer.optimizer]
kind = "adam"
lr = 0.001
beta1 = 0.9
beta2 = 0.999
eps = 1e-8
"#;

fn pesto() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pesto"))
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pesto-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A scratch directory holding `CONFIG` as `tiny.toml`, and that file's path.
fn scratch_with_config(name: &str) -> (PathBuf, PathBuf) {
    let dir = scratch(name);
    let config = dir.join("tiny.toml");
    std::fs::write(&config, CONFIG).unwrap();
    (dir, config)
}

/// A scratch directory holding a 10-step run of `CONFIG` in `run/`, and that run's directory.
fn ten_step_run(name: &str) -> (PathBuf, PathBuf) {
    let (dir, config) = scratch_with_config(name);
    let out = dir.join("run");
    run(pesto()
        .args(["meta-train", "--steps", "10", "--config"])
        .arg(&config)
        .arg("--out")
        .arg(&out));
    (dir, out)
}

fn run(command: &mut Command) -> Output {
    let output = command.output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    output
}

fn theta_bits(run_dir: &Path) -> Vec<u32> {
    SavedOptimizer::load(run_dir).unwrap().theta.iter().map(|t| t.to_bits()).collect()
}

/// Starts a long meta-training run and waits until it has written a checkpoint.
fn start_and_wait_for_checkpoint(config: &Path, out: &Path) -> Child {
    let mut child = pesto()
        .args(["meta-train", "--config"])
        .arg(config)
        .arg("--out")
        .arg(out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !out.join("optimizer.bin").exists() {
        assert!(Instant::now() < deadline, "no checkpoint within 60 s");
        assert!(child.try_wait().unwrap().is_none(), "meta-train exited early");
        std::thread::sleep(Duration::from_millis(2));
    }
    child
}

#[test]
fn killed_and_resumed_run_matches_a_straight_run() {
    let (dir, config) = scratch_with_config("kill");

    let killed = dir.join("killed");
    let mut child = start_and_wait_for_checkpoint(&config, &killed);
    child.kill().unwrap();
    child.wait().unwrap();
    // However far the killed run got, continue 50 steps past its last saved optimizer.
    let target = (SavedOptimizer::load(&killed).unwrap().outer_steps + 50).to_string();
    let resumed = run(pesto().args(["meta-train", "--steps", &target, "--resume"]).arg(&killed));
    let said = String::from_utf8_lossy(&resumed.stderr);
    assert!(said.contains("resuming from"), "{said}");

    let straight = dir.join("straight");
    run(pesto()
        .args(["meta-train", "--steps", &target, "--config"])
        .arg(&config)
        .arg("--out")
        .arg(&straight));
    assert_eq!(SavedOptimizer::load(&killed).unwrap().outer_steps.to_string(), target);
    assert_eq!(theta_bits(&killed), theta_bits(&straight));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The log's rows without the column that depends on the machine's speed.
fn deterministic_log(run_dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(run_dir.join("log.csv")).unwrap();
    let speed = text.lines().next().unwrap().split(',').position(|c| c == "inner_steps_per_sec");
    let speed = speed.unwrap();
    let row = |line: &str| {
        let cells = line.split(',').enumerate().filter(|&(i, _)| i != speed);
        cells.map(|(_, cell)| cell).collect::<Vec<_>>().join(",")
    };
    text.lines().map(row).collect()
}

#[test]
fn a_dozen_kill_9_at_random_points_lose_nothing() {
    let dir = scratch("soak");
    let config = dir.join("tiny.toml");
    // A checkpoint every other step, so kills also land in checkpoint and log writes.
    std::fs::write(&config, CONFIG.replace("checkpoint_every = 5", "checkpoint_every = 2"))
        .unwrap();
    let target = "100";
    let straight = dir.join("straight");
    run(pesto()
        .args(["meta-train", "--steps", target, "--config"])
        .arg(&config)
        .arg("--out")
        .arg(&straight));

    let killed = dir.join("killed");
    // Resumes once a killed process has written the run's config, else starts afresh (a loaded
    // machine can kill every attempt before that).
    let attempt = || {
        let mut command = pesto();
        command.args(["meta-train", "--steps", target]);
        if killed.join("config.toml").exists() {
            command.arg("--resume").arg(&killed);
        } else {
            command.arg("--config").arg(&config).arg("--out").arg(&killed);
        }
        command
    };
    let mut interrupted = 0;
    for kill in 0..12u64 {
        let mut child = attempt().stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        let delay = pesto_tasks::rng::mix(0x50a6 + kill) % 250;
        std::thread::sleep(Duration::from_millis(delay));
        interrupted += usize::from(child.try_wait().unwrap().is_none());
        child.kill().unwrap();
        child.wait().unwrap();
    }
    eprintln!("{interrupted} of 12 kills interrupted a running process");
    run(&mut attempt());

    assert!(temporaries(&killed).is_empty(), "{:?}", temporaries(&killed));
    assert_eq!(theta_bits(&killed), theta_bits(&straight));
    let newest = |d: &Path| std::fs::read(d.join("checkpoints/checkpoint-0000000100.bin")).unwrap();
    assert!(newest(&killed) == newest(&straight), "the final checkpoints differ");
    let (got, expected) = (deterministic_log(&killed), deterministic_log(&straight));
    let first_difference = got.iter().zip(&expected).position(|(a, b)| a != b);
    assert!(
        got == expected,
        "log.csv: {} rows, expected {}; first difference at row {first_difference:?}",
        got.len(),
        expected.len()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn each_stop_signal_ends_the_run_with_a_checkpoint_and_resume_is_bit_identical() {
    let (dir, config) = scratch_with_config("signals");
    let mut stopped = Vec::new();
    for signal in ["TERM", "HUP", "USR1", "INT"] {
        let out = dir.join(signal);
        let child = start_and_wait_for_checkpoint(&config, &out);
        let pid = child.id().to_string();
        assert!(
            Command::new("kill").args([&format!("-{signal}"), &pid]).status().unwrap().success()
        );
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "SIG{signal}: {:?} {stderr}", output.status);
        let step = SavedOptimizer::load(&out).unwrap().outer_steps;
        assert!(
            stderr.contains(&format!(
                "interrupted by SIG{signal}: checkpoint written at outer step {step}"
            )),
            "{stderr}"
        );
        assert!(out.join("checkpoints").join(format!("checkpoint-{step:010}.bin")).exists());
        let stdout = String::from_utf8_lossy(&output.stdout);
        let resume = format!("resume with: pesto meta-train --resume {}", out.display());
        assert!(stdout.contains(&resume), "{stdout}");
        stopped.push(out);
    }
    let target = stopped.iter().map(|d| SavedOptimizer::load(d).unwrap().outer_steps).max();
    let target = (target.unwrap() + 10).to_string();
    let straight = dir.join("straight");
    run(pesto()
        .args(["meta-train", "--steps", &target, "--config"])
        .arg(&config)
        .arg("--out")
        .arg(&straight));
    // The stopped runs were started without --steps, so only their configs' outer_steps
    // differ from the straight run's: everything they train must be the same bytes.
    let newest = |d: &Path| {
        let path = d.join(format!("checkpoints/checkpoint-{target:0>10}.bin"));
        let state: RunState = checkpoint::load(checkpoint::RUN, &path).unwrap();
        checkpoint::encode(checkpoint::RUN, &state.train)
    };
    for out in &stopped {
        run(pesto().args(["meta-train", "--steps", &target, "--resume"]).arg(out));
        assert_eq!(theta_bits(out), theta_bits(&straight), "{}", out.display());
        assert!(newest(out) == newest(&straight), "{}", out.display());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_second_process_on_a_run_directory_gets_the_lock_error() {
    let (dir, config) = scratch_with_config("lock");
    let out = dir.join("run");
    let first = start_and_wait_for_checkpoint(&config, &out);
    let expected = format!(
        "run directory {} is in use by process {} (lock file {})",
        out.display(),
        first.id(),
        out.join("run.lock").display()
    );
    let again =
        pesto().args(["meta-train", "--config"]).arg(&config).arg("--out").arg(&out).output();
    let resumed = pesto().args(["meta-train", "--resume"]).arg(&out).output();
    for second in [again.unwrap(), resumed.unwrap()] {
        assert_usage_error(&second, &expected);
    }
    let config_text = std::fs::read_to_string(out.join("config.toml")).unwrap();
    assert!(
        Command::new("kill").args(["-TERM", &first.id().to_string()]).status().unwrap().success()
    );
    assert!(first.wait_with_output().unwrap().status.success());
    assert_eq!(std::fs::read_to_string(out.join("config.toml")).unwrap(), config_text);
    // The lock goes with its holder.
    run(pesto().args(["meta-train", "--steps", "1", "--resume"]).arg(&out));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A small tmpfs mounted on a directory and unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// Mounts a tmpfs of `size` (as `mount -o size=` reads it) on `dir`, or says why not and
    /// returns `None` where this process may not mount one.
    fn mount(dir: &Path, size: &str) -> Option<Self> {
        std::fs::create_dir_all(dir).unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !mounted {
            eprintln!("skipped: this process cannot mount a tmpfs");
            return None;
        }
        Some(Self(dir.to_path_buf()))
    }

    /// Fills the file system up, then frees `free` bytes of it.
    fn fill(&self, free: u64) {
        let mut file = std::fs::File::create(self.0.join("filler")).unwrap();
        let chunk = [7u8; 4096];
        while file.write_all(&chunk).is_ok() {}
        let len = file.metadata().unwrap().len();
        file.set_len(len.saturating_sub(free)).unwrap();
    }

    fn unfill(&self) {
        std::fs::remove_file(self.0.join("filler")).unwrap();
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// The files under `dir` whose name ends in `.tmp`.
fn temporaries(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(temporaries(&path));
        } else if path.to_string_lossy().ends_with(".tmp") {
            found.push(path);
        }
    }
    found
}

/// Asserts `output` is a failure (not a panic) whose last message is `expected`.
fn assert_fails_with(output: &Output, expected: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.trim_end().lines().last(), Some(expected), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// Asserts `output` is a usage error (exit code 2) whose whole message is `error: {expected}`.
fn assert_usage_error(output: &Output, expected: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim_end(), format!("error: {expected}"));
}

#[test]
fn a_full_disk_is_a_clear_error_that_keeps_the_last_checkpoint_and_log() {
    let dir = scratch("full");
    let Some(disk) = Tmpfs::mount(&dir.join("disk"), "4m") else { return };
    let config = dir.join("tiny.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let full = "No space left on device (os error 28)";

    // The config: the lock file takes the last free page.
    disk.fill(4096);
    let fresh = disk.0.join("fresh");
    let output = pesto()
        .args(["meta-train", "--steps", "10", "--config"])
        .arg(&config)
        .arg("--out")
        .arg(&fresh)
        .output()
        .unwrap();
    let expected = format!("error: writing {}: {full}", fresh.join("config.toml").display());
    assert_fails_with(&output, &expected);
    assert!(temporaries(&fresh).is_empty());
    disk.unfill();

    let out = disk.0.join("run");
    run(pesto()
        .args(["meta-train", "--steps", "5", "--config"])
        .arg(&config)
        .arg("--out")
        .arg(&out));
    let checkpoint = out.join("checkpoints/checkpoint-0000000005.bin");
    let (saved, log) = (std::fs::read(&checkpoint).unwrap(), std::fs::read(out.join("log.csv")));
    let log = log.unwrap();

    // The log rewritten on resume.
    disk.fill(0);
    let output = pesto().args(["meta-train", "--steps", "10", "--resume"]).arg(&out).output();
    let expected = format!("error: {}: {full}", out.join("log.csv").display());
    assert_fails_with(&output.unwrap(), &expected);
    assert_eq!(std::fs::read(out.join("log.csv")).unwrap(), log);
    disk.unfill();

    // The checkpoint: room for the log and events, not for a checkpoint.
    disk.fill(64 << 10);
    let output = pesto().args(["meta-train", "--steps", "10", "--resume"]).arg(&out).output();
    let newest = out.join("checkpoints/checkpoint-0000000010.bin");
    assert_fails_with(&output.unwrap(), &format!("error: checkpoint {}: {full}", newest.display()));
    assert!(!newest.exists());
    assert_eq!(std::fs::read(&checkpoint).unwrap(), saved);
    assert!(std::fs::read(out.join("log.csv")).unwrap().starts_with(&log));
    assert_eq!(SavedOptimizer::load(&out).unwrap().outer_steps, 5);
    assert!(temporaries(&out).is_empty(), "{:?}", temporaries(&out));
    disk.unfill();

    // TensorBoard events.
    let events = disk.0.join("events");
    let mut tb = TensorBoard::open(&events).unwrap();
    disk.fill(0);
    let record = |step| OuterRecord { step, ..OuterRecord::default() };
    let written = (1..=100).try_for_each(|step| tb.observe(&record(step)));
    let err = written.and_then(|()| tb.flush()).unwrap_err().to_string();
    let file = std::fs::read_dir(&events).unwrap().next().unwrap().unwrap().path();
    assert_eq!(err, format!("{}: {full}", file.display()));
    disk.unfill();

    // A disk that fills during a run: whichever write fails first is reported, no panic.
    let long = disk.0.join("long");
    let child = start_and_wait_for_checkpoint(&config, &long);
    disk.fill(0);
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.trim_end().ends_with(full) && !stderr.contains("panicked"), "{stderr}");
    let resumed_from = SavedOptimizer::load(&long).unwrap().outer_steps;
    assert!(resumed_from > 0);
    disk.unfill();
    run(pesto()
        .args(["meta-train", "--steps", &(resumed_from + 1).to_string(), "--resume"])
        .arg(&long));
    drop(disk);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn resuming_on_a_read_only_file_system_names_the_file() {
    let dir = scratch("read-only");
    let Some(disk) = Tmpfs::mount(&dir.join("disk"), "4m") else { return };
    let config = dir.join("tiny.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let out = disk.0.join("run");
    run(pesto()
        .args(["meta-train", "--steps", "5", "--config"])
        .arg(&config)
        .arg("--out")
        .arg(&out));
    let remounted = Command::new("mount").args(["-o", "remount,ro"]).arg(&disk.0).status();
    assert!(remounted.unwrap().success());
    let output = pesto().args(["meta-train", "--steps", "10", "--resume"]).arg(&out).output();
    let expected = format!(
        "error: locking run directory {}: {}: Read-only file system (os error 30)",
        out.display(),
        out.join("run.lock").display()
    );
    assert_fails_with(&output.unwrap(), &expected);
    drop(disk);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn damaged_checkpoints_are_reported_by_name_and_exit_2() {
    let (dir, out) = ten_step_run("damaged");

    let refused = pesto()
        .args(["meta-train", "--config"])
        .arg(dir.join("tiny.toml"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("already holds a run"));

    let checkpoints = out.join("checkpoints");
    let newest = checkpoints.join("checkpoint-0000000010.bin");
    let bytes = std::fs::read(&newest).unwrap();
    std::fs::write(&newest, &bytes[..bytes.len() / 2]).unwrap();
    let fell_back = run(pesto().args(["meta-train", "--steps", "10", "--resume"]).arg(&out));
    let said = String::from_utf8_lossy(&fell_back.stderr);
    assert!(
        said.contains(&format!(
            "warning: skipping damaged checkpoint: checkpoint {}: truncated",
            newest.display()
        )),
        "{said}"
    );
    assert!(said.contains("checkpoint-0000000005.bin"), "{said}");

    std::fs::write(checkpoints.join("checkpoint-0000000005.bin"), b"garbage").unwrap();
    std::fs::write(&newest, b"PESTOCKP\x07\0\0\0").unwrap();
    let failed = pesto().args(["meta-train", "--resume"]).arg(&out).output().unwrap();
    assert_usage_error(
        &failed,
        &format!("checkpoint {}: format version 7, this build reads version 3", newest.display()),
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn hostile_paths_and_sizes_are_refused_without_hanging() {
    let (dir, config) = scratch_with_config("hostile");
    let refused = |args: &[&str], expected: &str| {
        let output = pesto().args(args).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert_eq!(String::from_utf8_lossy(&output.stderr).trim_end(), expected, "{args:?}");
    };
    let out = dir.join("run");
    let out_str = out.to_str().unwrap();
    refused(
        &["meta-train", "--config", "/dev/zero", "--out", out_str],
        "error: config /dev/zero: not a regular file",
    );
    refused(
        &["meta-train", "--threads", "100000", "--config", config.to_str().unwrap()],
        "error: --threads must be at most 1024, got 100000",
    );
    refused(
        &["eval", "--checkpoint", "/dev/zero"],
        "error: checkpoint /dev/zero: not a regular file",
    );
    let huge = dir.join("huge.toml");
    let big_task = "mlp-synth:input=1024,hidden=1024,classes=10,batch=8,steps=50";
    let text = CONFIG.replace("particles = 4", "particles = 65536");
    std::fs::write(
        &huge,
        text.replace(
            &CONFIG[CONFIG.find("mlp-synth").unwrap()..CONFIG.find(",steps=50").unwrap() + 9],
            big_task,
        ),
    )
    .unwrap();
    let output =
        pesto().args(["meta-train", "--config"]).arg(&huge).arg("--out").arg(&out).output();
    let output = output.unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.starts_with("error: 65536 particles would hold about "), "{stderr}");
    assert!(stderr.trim_end().ends_with("MiB this machine has available"), "{stderr}");
    assert!(!out.exists());
    let repro = pesto().args(["repro", "table", "--steps", "0"]).output().unwrap();
    assert_eq!(repro.status.code(), Some(2));

    // A FIFO named like a newer checkpoint is skipped, not waited on.
    run(pesto()
        .args(["meta-train", "--steps", "5", "--config"])
        .arg(&config)
        .arg("--out")
        .arg(&out));
    let fifo = out.join("checkpoints/checkpoint-0000000099.bin");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let resumed = run(pesto().args(["meta-train", "--steps", "6", "--resume"]).arg(&out));
    let said = String::from_utf8_lossy(&resumed.stderr);
    let expected =
        format!("skipping damaged checkpoint: checkpoint {}: not a regular file", fifo.display());
    assert!(said.contains(&expected), "{said}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_config_fields_exit_2_naming_the_field() {
    let dir = scratch("config");
    let config = dir.join("bad.toml");
    std::fs::write(&config, CONFIG.replace("sigma = 0.01", "sigma = 0.0")).unwrap();
    let output = pesto()
        .args(["meta-train", "--config"])
        .arg(&config)
        .arg("--out")
        .arg(dir.join("run"))
        .output()
        .unwrap();
    assert_usage_error(
        &output,
        &format!(
            "config {}: [estimator] `sigma` must be positive and finite, got 0",
            config.display()
        ),
    );
    assert!(!dir.join("run").exists(), "a rejected config must not create the run directory");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_run_records_its_effective_config_and_every_session() {
    let dir = scratch("provenance");
    let config = dir.join("minimal.toml");
    std::fs::write(&config, "[tasks]\ntask = \"mlp-synth:input=8,hidden=8,classes=3,batch=8,steps=20\"\n[estimator]\nparticles = 4\n").unwrap();
    let shown = run(pesto()
        .args(["config", "show", "--set", "estimator.sigma=0.02", "--config"])
        .arg(&config));
    let shown = String::from_utf8_lossy(&shown.stdout).into_owned();
    assert!(shown.contains("# Perturbation standard deviation sigma.\nsigma = 0.02"), "{shown}");
    assert!(shown.contains("outer_steps = 6000"), "{shown}");

    let out = dir.join("run");
    let start = ["meta-train", "--steps", "4", "--set", "estimator.sigma=0.02", "--config"];
    let output = run(pesto().args(start).arg(&config).arg("--out").arg(&out));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains(&format!("evaluate it with: pesto eval --lopt {}", out.display())));
    let saved = std::fs::read_to_string(out.join("config.toml")).unwrap();
    let effective = shown.replace("outer_steps = 6000", "outer_steps = 4");
    let reread = |text: &str| toml::from_str::<toml::Table>(text).unwrap();
    assert_eq!(reread(&saved), reread(&effective));
    run(pesto().args(["meta-train", "--steps", "6", "--resume"]).arg(&out));
    let behind = run(pesto().args(["meta-train", "--steps", "5", "--resume"]).arg(&out));
    let behind = String::from_utf8_lossy(&behind.stdout);
    assert!(
        behind.contains("already at outer step 6, at or past --steps 5: nothing to do"),
        "{behind}"
    );

    let sessions: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
    let sessions = sessions["sessions"].as_array().unwrap();
    let steps: Vec<(u64, u64)> = sessions
        .iter()
        .map(|s| (s["start_step"].as_u64().unwrap(), s["until"].as_u64().unwrap()))
        .collect();
    assert_eq!(steps, [(0, 4), (4, 6)]);
    assert_eq!(sessions[1]["command"][1], "meta-train");
    assert_eq!(sessions[0]["version"], env!("CARGO_PKG_VERSION"));

    let bad = pesto()
        .args(["meta-train", "--set", "estimator.sigma=-1", "--config"])
        .arg(&config)
        .arg("--out")
        .arg(dir.join("bad"))
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(stderr.contains("[estimator] `sigma` must be positive and finite, got -1"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bench_reports_json_lines_that_chart_draws_and_rejects_bad_input_with_exit_2() {
    let dir = scratch("bench");
    let config = dir.join("bench.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let mut results = String::new();
    for particles in ["2", "4"] {
        let output = run(pesto()
            .args(["bench", "--json", "--threads", "1", "--steps", "1", "--truncation", "2"])
            .args(["--particles", particles, "--config"])
            .arg(&config));
        results.push_str(&String::from_utf8(output.stdout).unwrap());
    }
    let jsonl = dir.join("particles.jsonl");
    std::fs::write(&jsonl, &results).unwrap();
    let png = dir.join("particles.png");
    let chart = |axis: &str| {
        let mut command = pesto();
        command.args(["bench", "--axis", axis, "--chart"]).arg(&jsonl).arg("--out").arg(&png);
        command
    };
    run(&mut chart("particles"));
    assert_eq!(&std::fs::read(&png).unwrap()[1..4], b"PNG");

    let odd = pesto()
        .args(["bench", "--steps", "1", "--particles", "7", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let overridden = format!("{} as overridden on the command line", config.display());
    assert_usage_error(
        &odd,
        &format!("config {overridden}: [estimator] `particles` must be even and at least 2, got 7"),
    );
    std::fs::write(&jsonl, "{\"threads\": 1}\n").unwrap();
    let bad = chart("params").output().unwrap();
    let why = "not a `pesto bench --json` report: missing field `optimizer` at line 1 column 14";
    assert_usage_error(&bad, &format!("{} line 1: {why}", jsonl.display()));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_shipped_optimizer_is_found_from_any_working_directory() {
    let dir = scratch("shipped");
    let summary = |out: &str| -> serde_json::Value {
        let text = std::fs::read_to_string(dir.join(out).join("summary.json")).unwrap();
        serde_json::from_str(&text).unwrap()
    };
    let task = ["train", "--task", "quadratic:dim=8", "--steps", "20"];
    run(pesto().current_dir(&dir).args(task).args(["--lopt", "--out", "built-in"]));
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("checkpoints/pretrained");
    run(pesto().current_dir(&dir).args(task).arg("--lopt").arg(&shipped).args(["--out", "file"]));
    let (built_in, file) = (summary("built-in"), summary("file"));
    assert_eq!(built_in["optimizer"], file["optimizer"]);
    assert_eq!(built_in["final_heldout"], file["final_heldout"]);
    let (built_in, file) = (&built_in["optimizer_file"], &file["optimizer_file"]);
    assert_eq!(built_in["path"], "built into pesto (checkpoints/pretrained/optimizer.bin)");
    assert_eq!(file["path"].as_str(), Some(shipped.join("optimizer.bin").to_str().unwrap()));
    assert_eq!(built_in["sha256"], file["sha256"]);
    assert_eq!(file["sha256"].as_str().map(str::len), Some(64));
    assert_eq!(file["outer_steps"], SavedOptimizer::load(&shipped).unwrap().outer_steps);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_run_checkpoint_is_a_learned_optimizer_for_train() {
    let (dir, out) = ten_step_run("checkpoint-lopt");
    let checkpoint = out.join("checkpoints/checkpoint-0000000010.bin");
    let task = ["train", "--task", "quadratic:dim=8", "--steps", "20"];
    let summary = |name: &str, lopt: &Path| -> serde_json::Value {
        run(pesto().args(task).arg("--lopt").arg(lopt).arg("--out").arg(dir.join(name)));
        let text = std::fs::read_to_string(dir.join(name).join("summary.json")).unwrap();
        serde_json::from_str(&text).unwrap()
    };
    let (from_checkpoint, from_file) = (summary("checkpoint", &checkpoint), summary("file", &out));
    assert_eq!(from_checkpoint["final_heldout"], from_file["final_heldout"]);
    let source = &from_checkpoint["optimizer_file"];
    assert_eq!(source["path"].as_str(), Some(checkpoint.to_str().unwrap()));
    assert_eq!(source["outer_steps"], 10);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The Python interpreter with the README's test packages: `PESTO_PYTHON`, else `.venv`.
fn python() -> PathBuf {
    std::env::var_os("PESTO_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python"))
}

/// Prints a safetensors file's metadata, each tensor's shape and f32 bit patterns, and the
/// CRC-32 of a second file, as JSON.
const READ_SAFETENSORS: &str = "
import json, sys, zlib
from safetensors import safe_open
with safe_open(sys.argv[1], 'np') as f:
    tensors = {k: [list(f.get_tensor(k).shape), f.get_tensor(k).view('<u4').ravel().tolist()]
               for k in f.keys()}
    crc = '%08x' % zlib.crc32(open(sys.argv[2], 'rb').read())
    print(json.dumps({'metadata': f.metadata(), 'tensors': tensors, 'crc': crc}))
";

#[test]
fn export_writes_named_tensors_that_python_reads_back_bit_for_bit() {
    let dir = scratch("export");
    let saved = SavedOptimizer::pretrained();
    saved.save(&dir.join("run/optimizer.bin")).unwrap();
    std::fs::write(dir.join("run/config.toml"), "seed = 1\n").unwrap();
    let out = dir.join("run.safetensors");
    run(pesto()
        .arg("export")
        .arg(dir.join("run"))
        .args(["--format", "safetensors", "--out"])
        .arg(&out));
    let output = Command::new(python())
        .args(["-c", READ_SAFETENSORS])
        .arg(&out)
        .arg(dir.join("run/config.toml"))
        .output()
        .expect("run Python: install safetensors as the README's test command does");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let read: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    for tensor in saved.kind.tensors() {
        let bits: Vec<u32> = tensor.values(&saved.theta).iter().map(|v| v.to_bits()).collect();
        assert_eq!(read["tensors"][tensor.name], serde_json::json!([tensor.shape, bits]));
    }
    let metadata = &read["metadata"];
    assert_eq!((&metadata["kind"], &metadata["outer_steps"]), (&"snr-lopt".into(), &"4000".into()));
    assert_eq!(metadata["config_crc32"], read["crc"]);

    let bad = pesto()
        .arg("export")
        .arg(dir.join("missing"))
        .args(["--format", "json", "--out"])
        .arg(dir.join("x.json"))
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains(&format!("{}: No such file", dir.join("missing").display())),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn compare_names_an_evaluation_it_cannot_read_and_exits_2() {
    let dir = scratch("compare");
    let output = pesto().arg("compare").arg(dir.join("missing")).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    let expected =
        format!("error: reading {} (an output directory of", dir.join("missing").display());
    assert!(stderr.starts_with(&expected), "{stderr}");
    let usage = pesto().arg("compare").output().unwrap();
    assert_eq!(usage.status.code(), Some(2));
}
