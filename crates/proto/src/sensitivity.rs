//! Reading the sensitivity annotations (`dossier.common.v1.sensitivity`, `mask`, `customer_ref`,
//! `author_ref`, `author_team`, `masked_fields`, `team_scope`) off field descriptors. The masking
//! engine and the contract test both go through here, so there is one reading of the annotations.

use prost_reflect::{ExtensionDescriptor, FieldDescriptor, Value};

pub use crate::common::{MaskStyle, Sensitivity};

/// The annotations of one field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldAnnotation {
    /// The sensitivity class; `Unspecified` when the field carries none (deny by default).
    pub sensitivity: Sensitivity,
    /// The partial form the field may be shown in.
    pub mask: MaskStyle,
    /// Whether the field holds the id of the customer the message is about.
    pub customer_ref: bool,
    /// Whether the field holds the author (a user's `sub`) of a record a salesperson wrote.
    pub author_ref: bool,
    /// Whether the field holds the author's sales team.
    pub author_team: bool,
    /// Whether the gateway lists in this field the paths it masked in a streamed message.
    pub masked_fields: bool,
    /// Whether the field limits an aggregate to one sales team.
    pub team_scope: bool,
}

struct Extensions {
    sensitivity: ExtensionDescriptor,
    mask: ExtensionDescriptor,
    customer_ref: ExtensionDescriptor,
    author_ref: ExtensionDescriptor,
    author_team: ExtensionDescriptor,
    masked_fields: ExtensionDescriptor,
    team_scope: ExtensionDescriptor,
}

fn extensions() -> &'static Extensions {
    static EXTENSIONS: std::sync::OnceLock<Extensions> = std::sync::OnceLock::new();
    EXTENSIONS.get_or_init(|| {
        let pool = crate::descriptor_pool();
        let get = |name: &str| {
            // The extensions are declared in common.proto, which every build compiles.
            #[allow(clippy::expect_used)]
            pool.get_extension_by_name(name)
                .expect("common.proto declares the sensitivity extensions")
        };
        Extensions {
            sensitivity: get("dossier.common.v1.sensitivity"),
            mask: get("dossier.common.v1.mask"),
            customer_ref: get("dossier.common.v1.customer_ref"),
            author_ref: get("dossier.common.v1.author_ref"),
            author_team: get("dossier.common.v1.author_team"),
            masked_fields: get("dossier.common.v1.masked_fields"),
            team_scope: get("dossier.common.v1.team_scope"),
        }
    })
}

/// Reads the annotations of a field.
pub fn annotation(field: &FieldDescriptor) -> FieldAnnotation {
    let ext = extensions();
    let options = field.options();
    let enum_value = |descriptor: &ExtensionDescriptor| {
        if !options.has_extension(descriptor) {
            return 0;
        }
        match options.get_extension(descriptor).as_ref() {
            Value::EnumNumber(number) => *number,
            _ => 0,
        }
    };
    let flag = |descriptor: &ExtensionDescriptor| {
        options.has_extension(descriptor)
            && matches!(
                options.get_extension(descriptor).as_ref(),
                Value::Bool(true)
            )
    };
    FieldAnnotation {
        sensitivity: Sensitivity::try_from(enum_value(&ext.sensitivity))
            .unwrap_or(Sensitivity::Unspecified),
        mask: MaskStyle::try_from(enum_value(&ext.mask)).unwrap_or(MaskStyle::Unspecified),
        customer_ref: flag(&ext.customer_ref),
        author_ref: flag(&ext.author_ref),
        author_team: flag(&ext.author_team),
        masked_fields: flag(&ext.masked_fields),
        team_scope: flag(&ext.team_scope),
    }
}

/// Looks a field up by message full name and field name, e.g.
/// (`dossier.customer.v1.Customer`, `phone`).
pub fn lookup(message: &str, field: &str) -> Option<FieldAnnotation> {
    let descriptor = crate::descriptor_pool().get_message_by_name(message)?;
    let field = descriptor.get_field_by_name(field)?;
    Some(annotation(&field))
}
