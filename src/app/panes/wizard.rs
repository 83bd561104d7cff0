//! The guided rollback: generations → choice → confirmation → progress → verdict.

use crate::backend::generations::Generation;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wizard {
    pub service: String,
    pub step: WizardStep,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WizardStep {
    Loading,
    Choose {
        gens: Vec<Generation>,
        selected: usize,
    },
    Confirm {
        gens: Vec<Generation>,
        from: u64,
        to: u64,
    },
    Running {
        op: u64,
        from: u64,
        to: u64,
    },
    Failed(String),
}

impl Wizard {
    pub fn new(service: String) -> Self {
        Self {
            service,
            step: WizardStep::Loading,
        }
    }

    /// The service's generations arrived: offer them (the previous one
    /// chosen), or say why there is nothing to roll back to. Only a wizard
    /// still waiting for them takes them (true then).
    pub fn listed(&mut self, result: Result<Vec<Generation>, String>) -> bool {
        if self.step != WizardStep::Loading {
            return false;
        }
        self.step = match result {
            Err(e) => WizardStep::Failed(e),
            Ok(gens) => match crate::backend::rollback::choose(&gens, None, &self.service) {
                Err(e) => WizardStep::Failed(e),
                Ok((_, target)) => WizardStep::Choose {
                    selected: gens
                        .iter()
                        .position(|g| g.generation == target)
                        .unwrap_or(0),
                    gens,
                },
            },
        };
        true
    }
}
