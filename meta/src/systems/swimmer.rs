//! MuJoCo Swimmer driven by a linear policy (docs/estimators.md, continuous control): theta is
//! the 2 x 8 matrix W of action = W obs, the state is the simulator's physics, and the loss of
//! a step is minus Gymnasium's Swimmer-v5 reward, (x after - x before) / dt - 1e-4 |action|^2,
//! with dt = 4 simulator steps. The reward is not differentiable through the simulator here:
//! only the ES family trains it. Swimmer has no terminal state, so an episode ends at the time
//! limit, the horizon T = 1000.

use crate::unrolled::{Unroll, UnrolledSystem};
use mujoco_rs::mujoco_c::mjtState;
use mujoco_rs::prelude::{MjData, MjModel};
use pesto_tasks::rng::{self, StreamRng};
use pesto_tasks::tags;
use rand::RngExt;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Positions in MuJoCo's Swimmer: x, y, body angle and two joint angles.
const NQ: usize = 5;
/// Velocities.
const NV: usize = 5;
/// Actuators (the two joints' motors).
const NU: usize = 2;
/// Observation: positions without x and y, then velocities.
const OBS: usize = NQ - 2 + NV;
/// Simulator steps per environment step.
const FRAME_SKIP: usize = 4;
/// Weight of |action|^2 in the reward.
const CTRL_COST: f64 = 1e-4;
/// Half-width of the uniform noise added to every position and velocity at a reset.
const RESET_NOISE: f64 = 0.1;
/// The simulator state a particle keeps: everything MuJoCo integrates (`mjSTATE_INTEGRATION`).
const STATE_SPEC: u32 = mjtState::mjSTATE_INTEGRATION as u32;

/// Swimmer with the time limit T, loaded from Gymnasium's `swimmer.xml`.
pub struct Swimmer {
    model: MjModel,
    /// The episode length T (Gymnasium's time limit, 1000).
    pub horizon: u64,
    /// Length of one environment step in seconds: 4 simulator steps.
    dt: f64,
}

/// One Swimmer episode: the simulator state and the environment steps taken.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SwimmerState {
    /// MuJoCo's integration state (time, positions, velocities, warm start, controls, ...).
    pub physics: Vec<f64>,
    /// Environment steps taken since the episode began.
    pub t: u64,
}

impl Swimmer {
    /// The Swimmer of the MuJoCo model file `xml` with horizon `horizon`; an error if the file
    /// does not load or is not a swimmer with 5 positions, 5 velocities and 2 actuators.
    pub fn from_xml(xml: &Path, horizon: u64) -> Result<Self, String> {
        let model = MjModel::from_xml(xml).map_err(|e| format!("{}: {e}", xml.display()))?;
        let dims = (model.ffi().nq as usize, model.ffi().nv as usize, model.ffi().nu as usize);
        if dims != (NQ, NV, NU) {
            return Err(format!(
                "{}: (nq, nv, nu) = {dims:?}, a swimmer has (5, 5, 2)",
                xml.display()
            ));
        }
        let dt = model.ffi().opt.timestep * FRAME_SKIP as f64;
        Ok(Self { model, horizon, dt })
    }

    /// Gymnasium's `swimmer.xml`, located by asking `python` where Gymnasium is installed.
    pub fn gymnasium_xml(python: &Path) -> Result<PathBuf, String> {
        let script = "import os, gymnasium; print(os.path.join(os.path.dirname(gymnasium.__file__), \
                      'envs', 'mujoco', 'assets', 'swimmer.xml'))";
        let fail = |reason: &str| {
            format!(
                "cannot find Gymnasium's swimmer.xml with {}: {reason}; install gymnasium there \
                 or pass --xml",
                python.display()
            )
        };
        let out = std::process::Command::new(python)
            .args(["-c", script])
            .output()
            .map_err(|e| fail(&e.to_string()))?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            return Err(fail(stderr.lines().last().unwrap_or("failed")));
        }
        Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
    }

    /// The episode that starts from positions `qpos` and velocities `qvel`, as Gymnasium's
    /// `set_state` after a reset leaves it.
    pub fn start(&self, qpos: &[f64; NQ], qvel: &[f64; NV]) -> SwimmerState {
        let mut data = MjData::new(&self.model);
        data.qpos_mut().copy_from_slice(qpos);
        data.qvel_mut().copy_from_slice(qvel);
        data.forward();
        let mut physics = vec![0.0; self.model.state_size(STATE_SPEC)];
        data.read_state_into(STATE_SPEC, &mut physics);
        SwimmerState { physics, t: 0 }
    }

    /// Mean return of theta's policy over `episodes` full episodes from the held-out starts of
    /// `seed` (the unperturbed policy's evaluation; episodes run in parallel).
    pub fn evaluate(&self, theta: &[f32], episodes: u64, seed: u64) -> f64 {
        let returns: Vec<f64> = (0..episodes)
            .into_par_iter()
            .map(|i| {
                let mut state = self.init_state(rng::derive(seed, &[tags::HELDOUT, i]), 0);
                -self.unroll(&mut state, theta, self.horizon).loss
            })
            .collect();
        returns.iter().sum::<f64>() / episodes as f64
    }

    /// The observation: positions without x and y, then velocities.
    fn observation(data: &MjData<&MjModel>) -> [f64; OBS] {
        let mut obs = [0.0; OBS];
        obs[..NQ - 2].copy_from_slice(&data.qpos()[2..]);
        obs[NQ - 2..].copy_from_slice(data.qvel());
        obs
    }

    /// One environment step with `action` (MuJoCo clamps the controls to [-1, 1]; the cost is
    /// of the action as given); returns the reward.
    fn step(&self, data: &mut MjData<&MjModel>, action: &[f64; NU]) -> f64 {
        let x_before = data.qpos()[0];
        data.ctrl_mut().copy_from_slice(action);
        for _ in 0..FRAME_SKIP {
            data.step();
        }
        let forward = (data.qpos()[0] - x_before) / self.dt;
        forward - CTRL_COST * (action[0] * action[0] + action[1] * action[1])
    }

    /// A simulator holding `state`.
    fn load(&self, state: &SwimmerState) -> MjData<&MjModel> {
        let mut data = MjData::new(&self.model);
        data.set_state(&state.physics, STATE_SPEC).expect("a checked state has the spec's size");
        data
    }
}

/// The policy's action W obs, W row-major in theta.
fn policy(theta: &[f32], obs: &[f64; OBS]) -> [f64; NU] {
    let mut action = [0.0; NU];
    for (a, row) in action.iter_mut().zip(theta.chunks_exact(OBS)) {
        *a = row.iter().zip(obs).map(|(w, o)| f64::from(*w) * o).sum();
    }
    action
}

impl UnrolledSystem for Swimmer {
    type State = SwimmerState;

    fn theta_dim(&self) -> usize {
        NU * OBS
    }

    /// W = 0, as the paper starts.
    fn initial_theta(&self) -> Vec<f32> {
        vec![0.0; NU * OBS]
    }

    /// Gymnasium's reset: every position and velocity at its default plus uniform noise in
    /// [-0.1, 0.1], drawn from `seed`.
    fn init_state(&self, seed: u64, start: u64) -> SwimmerState {
        let mut draws: StreamRng = rng::stream(seed, &[tags::PARAM_INIT]);
        let mut noise = || draws.random_range(-RESET_NOISE..RESET_NOISE);
        let qpos0 = self.model.qpos0();
        let qpos: [f64; NQ] = std::array::from_fn(|i| qpos0[i] + noise());
        let qvel: [f64; NV] = std::array::from_fn(|_| noise());
        SwimmerState { t: start, ..self.start(&qpos, &qvel) }
    }

    /// Runs `steps` environment steps of the policy theta; the loss is minus their rewards.
    fn run_steps(&self, state: &mut SwimmerState, theta: &[f32], steps: u64) -> Unroll {
        let mut data = self.load(state);
        let mut loss = 0.0;
        for _ in 0..steps {
            let action = policy(theta, &Self::observation(&data));
            loss -= self.step(&mut data, &action);
        }
        data.read_state_into(STATE_SPEC, &mut state.physics);
        state.t += steps;
        Unroll { loss, steps, clipped: false }
    }

    fn horizon(&self, _: &SwimmerState) -> Option<u64> {
        Some(self.horizon)
    }

    fn position(&self, state: &SwimmerState) -> u64 {
        state.t
    }

    fn check_state(&self, state: &SwimmerState) -> Result<(), String> {
        let size = self.model.state_size(STATE_SPEC);
        match state.physics.len() == size {
            true => Ok(()),
            false => Err(format!("{} physics values, expected {size}", state.physics.len())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::estimators::{EstimatorConfig, Pes};
    use crate::observe::tensorboard::tests::python;
    use crate::{Estimator, UnrolledSystem};
    use serde_json::json;

    /// The Swimmer of Gymnasium's model file with horizon `horizon`.
    fn swimmer(horizon: u64) -> Swimmer {
        let xml = Swimmer::gymnasium_xml(&python()).unwrap();
        Swimmer::from_xml(&xml, horizon).unwrap()
    }

    /// Gymnasium's Swimmer-v5 from the state sent on stdin, stepped with the actions sent.
    const GYMNASIUM: &str = "
import json, sys
import numpy as np
import gymnasium as gym
sent = json.load(sys.stdin)
env = gym.make('Swimmer-v5').unwrapped
env.reset(seed=0)
env.set_state(np.array(sent['qpos']), np.array(sent['qvel']))
steps = []
for action in sent['actions']:
    obs, reward, terminated, truncated, _ = env.step(np.array(action))
    steps.append({'obs': obs.tolist(), 'reward': reward, 'terminated': terminated})
print(json.dumps(steps))
";

    /// |a - b| within `rel` of max(1, |b|).
    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * b.abs().max(1.0)
    }

    #[test]
    fn steps_like_gymnasium_swimmer_including_actions_outside_the_control_range() {
        let system = swimmer(1000);
        let qpos = [0.05, -0.03, 0.08, -0.02, 0.09];
        let qvel = [0.07, 0.01, -0.06, 0.04, -0.08];
        let actions: Vec<[f64; NU]> = (0..300)
            .map(|t| {
                let t = f64::from(t);
                [2.5 * (0.07 * t).sin(), 1.5 * (0.13 * t).cos() - 0.3]
            })
            .collect();
        let sent = json!({ "qpos": qpos, "qvel": qvel, "actions": actions }).to_string();
        let mut child = std::process::Command::new(python())
            .args(["-c", GYMNASIUM])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), sent.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        let expected: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(expected.len(), actions.len());
        let state = system.start(&qpos, &qvel);
        let mut data = system.load(&state);
        // Both sides call the same MuJoCo library on the same state, so only the decimal
        // round trip of the JSON (one unit in the last place) and the order of the reward's
        // float64 operations can differ.
        let rel = 1e-9;
        for (t, (action, step)) in actions.iter().zip(&expected).enumerate() {
            let reward = system.step(&mut data, action);
            let obs = Swimmer::observation(&data);
            let want = step["reward"].as_f64().unwrap();
            assert!(close(reward, want, rel), "step {t}: reward {reward} vs {want}");
            for (i, o) in obs.iter().enumerate() {
                let want = step["obs"][i].as_f64().unwrap();
                assert!(close(*o, want, rel), "step {t}: obs[{i}] {o} vs {want}");
            }
            assert_eq!(step["terminated"], false, "Swimmer never terminates");
        }
        assert!(data.qvel()[3..].iter().any(|v| v.abs() > 0.5), "the motors moved the joints");
    }

    #[test]
    fn unrolls_are_deterministic_resumable_and_shared_by_a_seed() {
        let system = swimmer(1000);
        let theta: Vec<f32> = (0..16).map(|i| ((i * 7 % 11) as f32 - 5.0) * 0.2).collect();
        assert_eq!(system.init_state(3, 0), system.init_state(3, 0));
        assert_ne!(system.init_state(3, 0).physics, system.init_state(4, 0).physics);
        let mut straight = system.init_state(3, 0);
        let whole = system.unroll(&mut straight, &theta, 100).loss;
        let mut split = system.init_state(3, 0);
        let parts =
            system.unroll(&mut split, &theta, 30).loss + system.unroll(&mut split, &theta, 70).loss;
        assert_eq!(split, straight, "a truncation continues from the state the last one left");
        assert!(close(parts, whole, 1e-12), "{parts} vs {whole}");
        let mut again = system.init_state(3, 0);
        assert_eq!(system.unroll(&mut again, &theta, 100).loss.to_bits(), whole.to_bits());
    }

    #[test]
    fn the_loss_is_minus_the_forward_velocity_reward() {
        let system = swimmer(1000);
        let zero = system.initial_theta();
        let mut forward = system.start(&[0.0; NQ], &[1.0, 0.0, 0.0, 0.0, 0.0]);
        let mut backward = system.start(&[0.0; NQ], &[-1.0, 0.0, 0.0, 0.0, 0.0]);
        let ahead = system.unroll(&mut forward, &zero, 1).loss;
        let behind = system.unroll(&mut backward, &zero, 1).loss;
        assert!(ahead < -0.1 && behind > 0.1, "moving forward is rewarded: {ahead}, {behind}");
        assert!(close(ahead, -behind, 1e-9), "no action, no control cost: {ahead}, {behind}");
    }

    #[test]
    fn an_episode_ends_at_the_time_limit_and_pes_restarts_it() {
        let system = swimmer(20);
        let mut state = system.init_state(0, 0);
        assert_eq!(system.unroll(&mut state, &system.initial_theta(), 50).steps, 20);
        assert!(system.is_done(&state));
        let config =
            EstimatorConfig { particles: 4, sigma: 0.3, truncation: 5, stagger: false, seed: 1 };
        let mut pes = Pes::new(config, &system).unwrap();
        let theta = system.initial_theta();
        let resets: Vec<usize> = (0..8).map(|k| pes.estimate(&system, &theta, k).resets).collect();
        assert_eq!(resets, [0, 0, 0, 4, 0, 0, 0, 4]);
    }
}
