//! The parameters and gradient an update reads and writes, tensor by tensor: one flat vector
//! each, cut by the layout, or one slice per tensor (the separate arrays of a Python caller).

use pesto_tasks::ParamLayout;

/// Parameters and their gradient, as a learned optimizer's update walks them tensor by tensor.
pub enum Tensors<'s, 'a> {
    /// One flat vector each, as long as the layout.
    Flat {
        /// The parameters, updated in place.
        params: &'a mut [f32],
        /// Their gradient.
        grad: &'a [f32],
    },
    /// One slice per tensor of the layout, each as long as its tensor.
    Split {
        /// Each tensor's parameters, updated in place.
        params: &'s mut [&'a mut [f32]],
        /// Each tensor's gradient.
        grad: &'s [&'a [f32]],
    },
}

impl Tensors<'_, '_> {
    /// True when the parameters and the gradient have the layout's tensors' lengths.
    pub fn matches(&self, layout: &ParamLayout) -> bool {
        match self {
            Tensors::Flat { params, grad } => {
                params.len() == layout.len() && grad.len() == layout.len()
            }
            Tensors::Split { params, grad } => {
                let lens = |slices: &mut dyn Iterator<Item = usize>| {
                    slices.eq(layout.tensors().iter().map(|t| t.len()))
                };
                lens(&mut params.iter().map(|p| p.len())) && lens(&mut grad.iter().map(|g| g.len()))
            }
        }
    }

    /// The parameters and gradient of tensor `i` of `layout`.
    pub fn tensor(&mut self, layout: &ParamLayout, i: usize) -> (&mut [f32], &[f32]) {
        match self {
            Tensors::Flat { params, grad } => {
                let r = layout.tensors()[i].range();
                (&mut params[r.clone()], &grad[r])
            }
            Tensors::Split { params, grad } => (&mut *params[i], grad[i]),
        }
    }

    /// The parameters of each tensor of `layout`, in order.
    pub fn params<'t>(&'t self, layout: &'t ParamLayout) -> impl Iterator<Item = &'t [f32]> {
        layout.tensors().iter().enumerate().map(move |(i, tensor)| match self {
            Tensors::Flat { params, .. } => &params[tensor.range()],
            Tensors::Split { params, .. } => &*params[i],
        })
    }
}
