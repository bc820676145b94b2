//! The OpenAPI 3.1 document of an endpoint table.

use serde_json::{Map, Value, json};

use super::{Access, Endpoint};

/// The OpenAPI 3.1 document of `endpoints`.
pub fn document(endpoints: &[Endpoint]) -> Value {
    let problem = json!({"description": "A problem (RFC 9457) with a stable `code`", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}});
    let mut paths = Map::new();
    // Body types' schemas go to components.schemas, referred to from each operation.
    let mut schemas = schemars::generate::SchemaSettings::draft2020_12()
        .with(|s| s.definitions_path = "#/components/schemas".into())
        .into_generator();
    // Query types are spread into parameters, so they are generated whole.
    let mut inline = schemars::generate::SchemaSettings::draft2020_12()
        .with(|s| s.inline_subschemas = true)
        .into_generator();
    for e in endpoints {
        let mut params: Vec<Value> = e
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
            .map(|name| {
                let schema = if e.numeric.contains(&name) {
                    json!({"type": "integer", "format": "int64", "minimum": 0})
                } else {
                    json!({"type": "string", "minLength": 1})
                };
                json!({"name": name, "in": "path", "required": true, "schema": schema})
            })
            .collect();
        if let Some(query) = e.query {
            let schema = serde_json::to_value(query(&mut inline)).unwrap_or_default();
            let required = schema["required"].as_array().cloned().unwrap_or_default();
            if let Some(props) = schema["properties"].as_object() {
                for (name, schema) in props {
                    params.push(json!({
                        "name": name, "in": "query",
                        "required": required.contains(&Value::from(name.as_str())),
                        "schema": without_null(schema),
                    }));
                }
            }
        }
        for (name, description, required) in &e.headers {
            params.push(json!({"name": name, "in": "header", "required": required,
                "description": description, "schema": {"type": "string"}}));
        }
        let answer = match e.answer {
            None => json!({"description": "Done (no body)"}),
            Some((media, schema)) => {
                let schema = match schema {
                    Some(schema_of) => {
                        serde_json::to_value(schema_of(&mut schemas)).unwrap_or_default()
                    }
                    None if media == "application/json" => json!({"type": "object"}),
                    None => json!({"type": "string"}),
                };
                json!({"description": "OK", "content": {media: {"schema": schema}}})
            }
        };
        let mut responses = Map::new();
        responses.insert(e.success.to_string(), answer);
        for (status, description, schema_of) in &e.also {
            let schema = serde_json::to_value(schema_of(&mut schemas)).unwrap_or_default();
            responses.insert(
                status.to_string(),
                json!({"description": description, "content": {"application/json": {"schema": schema}}}),
            );
        }
        responses.insert("default".into(), problem.clone());
        let mut op = json!({
            "summary": e.summary,
            "operationId": format!("{}{}", e.method, e.path.replace(['/', '{', '}', '-', '.'], "_")),
            "parameters": params,
            "x-access": format!("{:?}", e.access).to_lowercase(),
            "responses": responses,
        });
        if e.access != Access::Public {
            op["security"] = json!([{"bearer": []}]);
        }
        if let Some(media) = e.body {
            let schema = match e.schema {
                Some(schema_of) => {
                    serde_json::to_value(schema_of(&mut schemas)).unwrap_or_default()
                }
                None if media == "text/csv" || media == "application/wasm" => {
                    json!({"type": "string", "format": "binary"})
                }
                None => json!({}),
            };
            op["requestBody"] = json!({"required": true, "content": {media: {"schema": schema}}});
        }
        let path = paths.entry(e.path.to_owned()).or_insert_with(|| json!({}));
        path[e.method] = op;
    }
    let mut components = Map::new();
    components.extend(schemas.take_definitions(true));
    components.insert(
        "Problem".to_owned(),
        json!({"type": "object", "required": ["type", "title", "status", "code", "detail"], "properties": {
            "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
            "code": {"type": "string"}, "detail": {"type": "string"}, "field": {"type": "string"}
        }}),
    );
    json!({
        "openapi": "3.1.0",
        "info": {"title": "ePMS admin API", "version": env!("CARGO_PKG_VERSION")},
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": components,
        }
    })
}

/// An optional query field's schema without its `null`: an absent parameter is how a
/// query string says "none".
fn without_null(schema: &Value) -> Value {
    let mut schema = schema.clone();
    if let Some(types) = schema["type"].as_array() {
        let kept: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
        schema["type"] = if kept.len() == 1 {
            kept[0].clone()
        } else {
            Value::from(kept)
        };
    }
    schema
}
