//! `deploy/Dockerfile` and `.dockerignore`.

use crate::files::*;

// ---- Dockerfile ------------------------------------------------------------------------------

/// The Dockerfile's instructions (continuation lines joined, comments dropped) by stage.
pub fn dockerfile_stages() -> Vec<Vec<String>> {
    let text = read(&deploy_dir().join("Dockerfile"));
    let mut instructions = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(part) => {
                current.push_str(part);
                current.push(' ');
            }
            None => {
                current.push_str(trimmed);
                if !current.trim().is_empty() {
                    instructions.push(current.trim().to_owned());
                }
                current.clear();
            }
        }
    }
    let mut stages: Vec<Vec<String>> = Vec::new();
    for instruction in instructions {
        if instruction.to_ascii_uppercase().starts_with("FROM ") {
            stages.push(Vec::new());
        }
        if let Some(stage) = stages.last_mut() {
            stage.push(instruction);
        }
    }
    stages
}

#[test]
fn the_image_is_multi_stage_non_root_and_checks_grpc_health() {
    let stages = dockerfile_stages();
    assert!(stages.len() >= 2, "multi-stage");
    let last = stages.last().expect("a final stage");
    let find = |keyword: &str| {
        last.iter()
            .filter(|i| i.to_ascii_uppercase().starts_with(&format!("{keyword} ")))
            .cloned()
            .collect::<Vec<_>>()
    };
    let user = find("USER").pop().expect("the final stage names a USER");
    let who = user[5..]
        .split(':')
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned();
    assert!(who != "root" && who != "0", "runs as {who}");
    let healthcheck = find("HEALTHCHECK").pop().expect("a HEALTHCHECK");
    let command = healthcheck
        .split(" CMD ")
        .nth(1)
        .expect("HEALTHCHECK … CMD");
    assert!(
        command.contains("dossier") && command.contains("\"probe\""),
        "the check is `dossier probe`: {command}"
    );
    let entrypoint = find("ENTRYPOINT").pop().expect("an ENTRYPOINT");
    assert!(entrypoint.contains("dossier"));
    // The binary comes from a build stage, not from outside.
    assert!(
        find("COPY")
            .iter()
            .any(|c| c.contains("--from=builder") && c.contains("dossier")),
        "the binary is copied from the builder stage"
    );
    assert!(
        stages[..stages.len() - 1]
            .iter()
            .flatten()
            .any(|i| i.contains("cargo build --release --locked -p dossier")),
        "a stage builds the binary"
    );
    let ignore = read(&deploy_dir().join("../.dockerignore"));
    for excluded in ["**/target", ".env", ".git"] {
        assert!(
            ignore.lines().any(|l| l.trim() == excluded),
            ".dockerignore leaves out {excluded}"
        );
    }
}
