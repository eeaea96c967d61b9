//! The error answers that follow from an operation's shape rather than from what it
//! does, added to every operation of the OpenAPI document so that it lists every status
//! the API can answer: 401 and 403 where a token is needed, 400 where parameters or a
//! body are read (malformed values), 415 and 422 where a JSON or YAML body is (wrong
//! content type; well-formed but not what the operation takes), 404 where the path names
//! something, 503 when the database does not answer. An operation's own description of
//! a status wins over these.

use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, Response, ResponseBuilder};

pub struct ErrorAnswers;

impl utoipa::Modify for ErrorAnswers {
    fn modify(&self, openapi: &mut OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            let names_something = path.contains('{');
            for operation in operations(item) {
                add_answers(operation, names_something);
            }
        }
    }
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.patch.as_mut(),
    ]
    .into_iter()
    .flatten()
}

fn add_answers(operation: &mut Operation, names_something: bool) {
    let needs_token = operation
        .security
        .as_ref()
        .is_some_and(|requirements| !requirements.is_empty());
    let reads_parameters = operation
        .parameters
        .as_ref()
        .is_some_and(|parameters| !parameters.is_empty());
    let reads_body = operation.request_body.is_some();
    let mut answers: Vec<(&str, &str)> = Vec::new();
    if needs_token {
        answers.push(("401", "No valid API token or session"));
        answers.push(("403", "The caller's role does not allow this"));
        answers.push(("503", "The database does not answer"));
    }
    if reads_parameters || reads_body {
        answers.push(("400", "A malformed parameter or body"));
    }
    if reads_body {
        answers.push((
            "415",
            "The body is not of the content type the operation reads",
        ));
        answers.push((
            "422",
            "The body is well-formed but not what the operation takes",
        ));
    }
    if names_something {
        answers.push(("404", "What the path names does not exist"));
    }
    for (status, description) in answers {
        operation
            .responses
            .responses
            .entry(status.to_string())
            .or_insert_with(|| error_answer(description));
    }
}

fn error_answer(description: &str) -> RefOr<Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
            .build(),
    )
}
