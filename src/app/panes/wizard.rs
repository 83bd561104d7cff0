//! The guided rollback: generations → choice → confirmation → progress → verdict.

use crate::backend::generations::Generation;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wizard {
    pub service: String,
    pub step: WizardStep,
    /// Why the wizard is back at the list (the host changed since the
    /// plan), shown above it until the next choice.
    pub note: Option<String>,
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
            note: None,
        }
    }

    /// The rollback it started (`op`) was refused before switching
    /// anything because the host changed since the plan: say so, and list
    /// the generations again (true when this wizard's rollback it was).
    pub fn replan(&mut self, op: u64, why: &str) -> bool {
        if !matches!(self.step, WizardStep::Running { op: o, .. } if o == op) {
            return false;
        }
        self.note = Some(format!(
            "The host changed since the plan: {why}. Choose again from what it has now."
        ));
        self.step = WizardStep::Loading;
        true
    }

    /// Why generation `g` cannot be chosen, if it cannot.
    pub fn refusal(g: &Generation) -> Option<String> {
        if g.current {
            Some("that is the current generation: choose another".into())
        } else if !g.present {
            Some(format!(
                "generation {} is dangling (its store path {} is gone): choose another",
                g.generation, g.path
            ))
        } else {
            None
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
