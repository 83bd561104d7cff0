//! The guided rollback: generations → choice → confirmation → progress → verdict.

use crate::backend::generations::Generation;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wizard {
    pub service: String,
    pub step: WizardStep,
    /// Why the wizard is back at the list (the host changed since the
    /// plan), shown above it until the next choice.
    pub note: Option<String>,
    /// The generation asked for by name (`:rollback NAME GEN`): straight
    /// to its confirmation once listed, if it can be chosen.
    pub target: Option<u64>,
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
            target: None,
        }
    }

    /// A wizard for a rollback to `target` (the default choice when `None`).
    pub fn to(service: String, target: Option<u64>) -> Self {
        Self {
            target,
            ..Self::new(service)
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
        if let (Some(to), Ok(gens)) = (self.target.take(), &result) {
            let current = gens.iter().find(|g| g.current).map(|g| g.generation);
            match (
                crate::backend::rollback::choose(gens, Some(to), &self.service),
                current,
            ) {
                (Ok(_), Some(from)) => {
                    self.step = WizardStep::Confirm {
                        gens: gens.clone(),
                        from,
                        to,
                    };
                    return true;
                }
                // Why not, above the usual choice.
                (Err(why), _) => self.note = Some(why),
                (Ok(_), None) => {}
            }
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
