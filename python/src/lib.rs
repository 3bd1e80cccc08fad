//! `pesto._native`: pesto's learned optimizers stepping numpy arrays in place with the Rust
//! kernels, and the registry's tasks, for Python (the package `pesto` re-exports both).

use numpy::{
    PyArray1, PyArrayDyn, PyArrayMethods, PyReadonlyArray1, PyUntypedArray, PyUntypedArrayMethods,
};
use pesto_meta::checkpoint::CheckpointError;
use pesto_meta::optim::{OptState, Optimizer as _, SavedOptimizer, Tensors, WithTheta};
use pesto_tasks::{ParamLayout, TaskSpec, registry};
use pyo3::exceptions::{
    PyFileNotFoundError, PyOSError, PyPermissionError, PyTypeError, PyValueError,
};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::borrow::Cow;
use std::path::PathBuf;

/// The Python exception for an optimizer file that cannot be read (OSError) or used (ValueError).
fn checkpoint_error(err: CheckpointError) -> PyErr {
    let message = err.to_string();
    match err {
        CheckpointError::Io { error, .. } => match error.kind() {
            std::io::ErrorKind::NotFound => PyFileNotFoundError::new_err(message),
            std::io::ErrorKind::PermissionDenied => PyPermissionError::new_err(message),
            _ => PyOSError::new_err(message),
        },
        _ => PyValueError::new_err(message),
    }
}

/// `obj` as a float32 numpy array, else a TypeError naming `what` and what it is.
fn f32_array<'py>(obj: &Bound<'py, PyAny>, what: &str) -> PyResult<Bound<'py, PyArrayDyn<f32>>> {
    if let Ok(array) = obj.cast::<PyArrayDyn<f32>>() {
        return Ok(array.clone());
    }
    let found = match obj.cast::<PyUntypedArray>() {
        Ok(array) => format!("a numpy array of dtype {}", array.dtype()),
        Err(_) => format!("a {}", obj.get_type().name()?),
    };
    Err(PyTypeError::new_err(format!("{what} must be a float32 numpy array, found {found}")))
}

/// A ValueError unless `array` has the shape `expected`, naming `what`.
fn check_shape(array: &Bound<'_, PyArrayDyn<f32>>, expected: &[usize], what: &str) -> PyResult<()> {
    if array.shape() == expected {
        return Ok(());
    }
    Err(PyValueError::new_err(format!(
        "{what} has shape {:?}, expected {expected:?}",
        array.shape()
    )))
}

/// A ValueError unless `items` holds one entry per tensor, naming `what`.
fn check_count(items: &[Bound<'_, PyAny>], layout: &ParamLayout, what: &str) -> PyResult<()> {
    let expected = layout.tensors().len();
    if items.len() == expected {
        return Ok(());
    }
    Err(PyValueError::new_err(format!(
        "{what} has {} arrays, the optimizer was built for {expected}",
        items.len()
    )))
}

/// A run length as Python writes it: the number, or None.
fn horizon_text(horizon: Option<u64>) -> String {
    horizon.map_or("None".to_string(), |h| h.to_string())
}

/// A learned optimizer with its state over one run of a list of float32 tensors.
///
/// Optimizer(shapes, path=None, *, horizon=None): `shapes` is one shape per tensor (the
/// optimizer normalises tensor by tensor); `path` an optimizer file or a meta-training run
/// directory, or None for the shipped optimizer built into pesto; `horizon` the number of
/// steps T of the run, required by the kinds whose schedule reads t / T (rel-lopt,
/// nominal-lopt, snr-lopt, the shipped kind, horizon-lopt and trend-lopt), ignored by the
/// others. Steps past T keep the schedule's value at T.
#[pyclass(module = "pesto", name = "Optimizer")]
struct Optimizer {
    saved: SavedOptimizer,
    optimizer: WithTheta,
    layout: ParamLayout,
    horizon: Option<u64>,
    state: OptState,
}

#[pymethods]
impl Optimizer {
    #[new]
    #[pyo3(signature = (shapes, path=None, *, horizon=None))]
    fn new(shapes: Vec<Vec<usize>>, path: Option<PathBuf>, horizon: Option<u64>) -> PyResult<Self> {
        let saved = match path {
            Some(path) => SavedOptimizer::load(&path).map_err(checkpoint_error)?,
            None => SavedOptimizer::pretrained(),
        };
        if shapes.is_empty() {
            return Err(PyValueError::new_err("shapes is empty: there is nothing to optimise"));
        }
        if horizon == Some(0) {
            return Err(PyValueError::new_err("horizon must be at least 1"));
        }
        if saved.kind.uses_horizon() && horizon.is_none() {
            return Err(PyValueError::new_err(format!(
                "{} reads the run length: pass horizon=T, the number of steps of the run",
                saved.kind
            )));
        }
        let mut layout = ParamLayout::new();
        for (i, shape) in shapes.iter().enumerate() {
            layout.push(&format!("params[{i}]"), shape);
        }
        let optimizer = saved.build();
        let state = optimizer.init_state(&layout, horizon.unwrap_or(0));
        Ok(Self { saved, optimizer, layout, horizon, state })
    }

    /// One update of `params` in place from `grads`, the gradient of the minibatch loss `loss`.
    ///
    /// Each params[i] must be a C-contiguous, writeable float32 array of shapes[i] (a
    /// ValueError otherwise: the update could not reach a copy); it is updated where it lies,
    /// with the GIL released. Each grads[i] must be a float32 array of the same shape; one that
    /// is not C-contiguous is copied. `loss` feeds the loss features of rel-lopt,
    /// nominal-lopt, snr-lopt, horizon-lopt and trend-lopt; without it they stay as for a
    /// constant loss (and trend-lopt's controller sees no trend).
    #[pyo3(signature = (params, grads, loss=None))]
    fn step(
        &mut self,
        py: Python<'_>,
        params: Vec<Bound<'_, PyAny>>,
        grads: Vec<Bound<'_, PyAny>>,
        loss: Option<f64>,
    ) -> PyResult<()> {
        check_count(&params, &self.layout, "params")?;
        check_count(&grads, &self.layout, "grads")?;
        let mut writers = Vec::with_capacity(params.len());
        for (i, (param, tensor)) in params.iter().zip(self.layout.tensors()).enumerate() {
            let what = format!("params[{i}]");
            let array = f32_array(param, &what)?;
            check_shape(&array, &tensor.shape, &what)?;
            if !array.is_c_contiguous() {
                return Err(PyValueError::new_err(format!(
                    "{what} is not C-contiguous, so it cannot be updated in place; \
                     pass numpy.ascontiguousarray({what}) and keep that array"
                )));
            }
            let writer = array.try_readwrite().map_err(|err| {
                PyValueError::new_err(format!("{what} cannot be written in place: {err}"))
            })?;
            writers.push(writer);
        }
        let mut readers = Vec::with_capacity(grads.len());
        for (i, (grad, tensor)) in grads.iter().zip(self.layout.tensors()).enumerate() {
            let what = format!("grads[{i}]");
            let array = f32_array(grad, &what)?;
            check_shape(&array, &tensor.shape, &what)?;
            let reader = array
                .try_readonly()
                .map_err(|err| PyValueError::new_err(format!("{what} cannot be read: {err}")))?;
            readers.push(reader);
        }
        let mut params: Vec<&mut [f32]> =
            writers.iter_mut().map(|w| w.as_slice_mut().expect("checked C-contiguous")).collect();
        let grads: Vec<Cow<'_, [f32]>> = readers
            .iter()
            .map(|r| match r.is_c_contiguous() {
                true => Cow::Borrowed(r.as_slice().expect("C-contiguous")),
                false => Cow::Owned(r.as_array().iter().copied().collect()),
            })
            .collect();
        let grads: Vec<&[f32]> = grads.iter().map(|g| &**g).collect();
        let loss = loss.map_or(f32::NAN, |l| l as f32);
        let (optimizer, state, layout) = (&self.optimizer, &mut self.state, &self.layout);
        py.detach(|| {
            let tensors = Tensors::Split { params: &mut params, grad: &grads };
            optimizer.step_tensors(state, layout, tensors, loss);
        });
        Ok(())
    }

    /// The optimizer's state as a dict of plain values and float32 arrays: kind, shapes,
    /// horizon, steps_taken, slots (one array per accumulator, as long as all parameters) and
    /// scalars (per-run values: loss averages, tensor scales).
    fn state_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let state = PyDict::new(py);
        state.set_item("kind", self.saved.kind.name())?;
        state.set_item("shapes", self.shapes())?;
        state.set_item("horizon", self.horizon)?;
        state.set_item("steps_taken", self.state.step)?;
        let slots: Vec<_> = self.state.slots.iter().map(|s| PyArray1::from_slice(py, s)).collect();
        state.set_item("slots", slots)?;
        state.set_item("scalars", PyArray1::from_slice(py, &self.state.scalars))?;
        Ok(state)
    }

    /// Continues from `state`, a `state_dict()` of an optimizer of the same kind, shapes and
    /// horizon (a ValueError naming the difference otherwise).
    fn load_state_dict(&mut self, state: &Bound<'_, PyDict>) -> PyResult<()> {
        let item = |key: &str| {
            state
                .get_item(key)?
                .ok_or_else(|| PyValueError::new_err(format!("the state has no `{key}`")))
        };
        let same = |what: &str, found: String, expected: String| {
            if found == expected {
                return Ok(());
            }
            Err(PyValueError::new_err(format!(
                "the state is for {what} {found}, this optimizer has {expected}"
            )))
        };
        same("kind", item("kind")?.extract::<String>()?, self.saved.kind.name().to_string())?;
        let shapes: Vec<Vec<usize>> = item("shapes")?.extract()?;
        same("shapes", format!("{shapes:?}"), format!("{:?}", self.shapes()))?;
        let horizon: Option<u64> = item("horizon")?.extract()?;
        same("horizon", horizon_text(horizon), horizon_text(self.horizon))?;
        let vector = |value: Bound<'_, PyAny>, what: &str, len: usize| -> PyResult<Vec<f32>> {
            let array = f32_array(&value, what)?;
            check_shape(&array, &[len], what)?;
            Ok(array.try_readonly()?.as_array().iter().copied().collect())
        };
        let fresh = self.optimizer.init_state(&self.layout, self.horizon.unwrap_or(0));
        let slots: Vec<Bound<'_, PyAny>> = item("slots")?.extract()?;
        if slots.len() != fresh.slots.len() {
            return Err(PyValueError::new_err(format!(
                "the state has {} slots, this optimizer has {}",
                slots.len(),
                fresh.slots.len()
            )));
        }
        let slots = slots
            .into_iter()
            .enumerate()
            .map(|(i, s)| vector(s, &format!("slots[{i}]"), self.layout.len()))
            .collect::<PyResult<_>>()?;
        let scalars = vector(item("scalars")?, "scalars", fresh.scalars.len())?;
        let step = item("steps_taken")?.extract()?;
        self.state = OptState { step, horizon: fresh.horizon, slots, scalars };
        Ok(())
    }

    /// The learned optimizer's kind, e.g. `snr-lopt`.
    #[getter]
    fn kind(&self) -> &'static str {
        self.saved.kind.name()
    }

    /// Outer steps of meta-training behind its theta.
    #[getter]
    fn outer_steps(&self) -> u64 {
        self.saved.outer_steps
    }

    /// The run length T it was built for, or None.
    #[getter]
    fn horizon(&self) -> Option<u64> {
        self.horizon
    }

    /// Updates taken so far, t.
    #[getter]
    fn steps_taken(&self) -> u64 {
        self.state.step
    }

    /// The shape of each tensor, in order.
    #[getter]
    fn shapes(&self) -> Vec<Vec<usize>> {
        self.layout.tensors().iter().map(|t| t.shape.clone()).collect()
    }

    /// The meta-parameters theta, as a new float32 array.
    #[getter]
    fn theta<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f32>> {
        PyArray1::from_slice(py, self.optimizer.theta())
    }

    fn __repr__(&self) -> String {
        format!(
            "pesto.Optimizer({}, {} tensors, {} parameters, horizon={}, {} steps taken)",
            self.saved.kind,
            self.layout.tensors().len(),
            self.layout.len(),
            horizon_text(self.horizon),
            self.state.step
        )
    }
}

/// A task of pesto's registry, to train from Python with gradients computed by pesto.
///
/// Task(spec, seed=0): `spec` is FAMILY[:key=value,...] as for `pesto train --task`, `seed`
/// the seed of its data. Parameters are one flat float32 vector; `shapes` cuts it into tensors.
#[pyclass(module = "pesto", name = "Task")]
struct Task {
    task: Box<dyn pesto_tasks::Task>,
    grad: Vec<f32>,
}

impl Task {
    /// `params` as a slice of the task's length, else a ValueError.
    fn params<'a>(&self, params: &'a PyReadonlyArray1<'_, f32>) -> PyResult<&'a [f32]> {
        let slice = params
            .as_slice()
            .map_err(|_| PyValueError::new_err("params must be a C-contiguous float32 vector"))?;
        let expected = self.task.layout().len();
        if slice.len() != expected {
            return Err(PyValueError::new_err(format!(
                "params has {} values, the task has {expected}",
                slice.len()
            )));
        }
        Ok(slice)
    }
}

#[pymethods]
impl Task {
    #[new]
    #[pyo3(signature = (spec, seed=0))]
    fn new(spec: &str, seed: u64) -> PyResult<Self> {
        let parsed =
            TaskSpec::parse(spec, seed).map_err(|e| PyValueError::new_err(e.to_string()))?;
        let task = registry::build(&parsed).map_err(|e| PyValueError::new_err(e.to_string()))?;
        let grad = vec![0.0; task.layout().len()];
        Ok(Self { task, grad })
    }

    /// The shape of each tensor of the flat parameter vector, in order.
    #[getter]
    fn shapes(&self) -> Vec<Vec<usize>> {
        self.task.layout().tensors().iter().map(|t| t.shape.clone()).collect()
    }

    /// The task's default number of training steps T.
    #[getter]
    fn horizon(&self) -> u64 {
        self.task.horizon()
    }

    /// The initial parameters drawn from `seed`, as a new flat float32 vector.
    fn init_params<'py>(&self, py: Python<'py>, seed: u64) -> Bound<'py, PyArray1<f32>> {
        let mut params = vec![0.0; self.task.layout().len()];
        self.task.init_params(seed, &mut params);
        PyArray1::from_vec(py, params)
    }

    /// The minibatch loss of training step `step` at `params`, and its gradient (a new array).
    fn loss_and_grad<'py>(
        &mut self,
        py: Python<'py>,
        params: PyReadonlyArray1<'_, f32>,
        step: u64,
    ) -> PyResult<(f32, Bound<'py, PyArray1<f32>>)> {
        let flat = self.params(&params)?;
        let loss = self.task.loss_and_grad(flat, step, &mut self.grad);
        Ok((loss, PyArray1::from_slice(py, &self.grad)))
    }

    /// The held-out loss at `params`.
    fn heldout_loss(&mut self, params: PyReadonlyArray1<'_, f32>) -> PyResult<f32> {
        let flat = self.params(&params)?;
        Ok(self.task.heldout_loss(flat))
    }

    fn __repr__(&self) -> String {
        format!(
            "pesto.Task({:?}, {} parameters)",
            self.task.spec().to_string(),
            self.task.layout().len()
        )
    }
}

/// The native part of the `pesto` package.
#[pymodule]
#[pyo3(name = "_native")]
fn native(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<Optimizer>()?;
    module.add_class::<Task>()?;
    module.add("PRETRAINED_PATH", pesto_meta::optim::PRETRAINED_PATH)?;
    Ok(())
}
