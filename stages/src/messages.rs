//! Bilingual applicant-facing messages for every reason code.
//!
//! The one place a [`Finding`] is built, so that every stage words the same
//! problem the same way and every code has both languages.

use intake_models::{DocumentKind, Field, Finding, JobId, ReasonCode};

/// A finding for `code`, concerning `field` if any, with its messages.
pub fn finding(code: ReasonCode, field: Option<Field>) -> Finding {
    let (message, message_ru) = texts(code, field);
    Finding {
        code,
        field,
        message,
        message_ru,
    }
}

/// `cross_document_mismatch` on `field` of this `kind` of document, naming
/// the other document of the account it disagrees with.
pub fn cross_document(
    field: Field,
    kind: DocumentKind,
    other: DocumentKind,
    other_job: &JobId,
) -> Finding {
    let (en_field, ru_field) = field_names(Some(field));
    let (en_kind, ru_kind) = kind.names();
    let (en_other, ru_other) = other.names();
    let job: String = other_job.0.chars().take(12).collect();
    Finding {
        code: ReasonCode::CrossDocumentMismatch,
        field: Some(field),
        message: format!("The {en_field} on this {en_kind} differs from the {en_other} of your account (document {job}). A specialist will check that all documents belong to you."),
        message_ru: format!("Поле «{ru_field}» в этом документе ({ru_kind}) не совпадает с документом «{ru_other}» вашей учётной записи (документ {job}). Специалист проверит, что все документы принадлежат вам."),
    }
}

/// `cross_document_mismatch` on the document number: the stay document
/// (`stay`) names another passport than the account's (`passport_job`).
pub fn named_passport_differs(stay: DocumentKind, passport_job: &JobId) -> Finding {
    let (en_kind, ru_kind) = stay.names();
    let job: String = passport_job.0.chars().take(12).collect();
    Finding {
        code: ReasonCode::CrossDocumentMismatch,
        field: Some(Field::DocumentNumber),
        message: format!("The passport number on this {en_kind} is not that of the passport on your account (document {job}). A specialist will check that all documents belong to you."),
        message_ru: format!("Номер паспорта в этом документе ({ru_kind}) не совпадает с номером паспорта вашей учётной записи (документ {job}). Специалист проверит, что все документы принадлежат вам."),
    }
}

fn field_names(field: Option<Field>) -> (&'static str, &'static str) {
    match field {
        Some(Field::DocumentType) => ("document type", "тип документа"),
        Some(Field::IssuingState) => ("issuing state", "государство выдачи"),
        Some(Field::Surname) => ("surname", "фамилия"),
        Some(Field::GivenNames) => ("given names", "имя"),
        Some(Field::DocumentNumber) => ("document number", "номер документа"),
        Some(Field::Nationality) => ("nationality", "гражданство"),
        Some(Field::BirthDate) => ("date of birth", "дата рождения"),
        Some(Field::Sex) => ("sex", "пол"),
        Some(Field::ExpiryDate) => ("expiry date", "срок действия"),
        Some(Field::PersonalNumber) => ("personal number", "личный номер"),
        Some(Field::SurnameCyrillic) => ("surname in Cyrillic", "фамилия (кириллицей)"),
        Some(Field::GivenNamesCyrillic) => ("given names in Cyrillic", "имя (кириллицей)"),
        Some(Field::Patronymic) => ("patronymic", "отчество"),
        Some(Field::PatronymicCyrillic) => ("patronymic in Cyrillic", "отчество (кириллицей)"),
        Some(Field::PlaceOfBirth) => ("place of birth", "место рождения"),
        Some(Field::IssueDate) => ("issue date", "дата выдачи"),
        Some(Field::Snils) => ("SNILS", "СНИЛС"),
        Some(Field::Inn) => ("INN", "ИНН"),
        None => ("a field", "поле"),
    }
}

fn texts(code: ReasonCode, field: Option<Field>) -> (String, String) {
    use ReasonCode::*;
    let (en_field, ru_field) = field_names(field);
    // "Given names" takes the plural.
    let verb = |one: &'static str, many: &'static str| {
        if matches!(field, Some(Field::GivenNames | Field::GivenNamesCyrillic)) {
            many
        } else {
            one
        }
    };
    let (en, ru): (String, String) = match code {
        FileEmpty => (
            "The file is empty. Upload the scan again.".into(),
            "Файл пустой. Загрузите скан ещё раз.".into(),
        ),
        FormatUnsupported => (
            "This file format is not accepted. Upload the scan as PDF, JPEG or PNG.".into(),
            "Этот формат файла не принимается. Загрузите скан в формате PDF, JPEG или PNG.".into(),
        ),
        FileCorrupt => (
            "The file is damaged or incomplete and cannot be opened. Save the scan again and re-upload it.".into(),
            "Файл повреждён или загружен не полностью и не открывается. Сохраните скан заново и загрузите его ещё раз.".into(),
        ),
        FileTooLarge => (
            "The file is larger than 5 MB. Reduce its size (for example, save it as JPEG) and upload it again.".into(),
            "Размер файла больше 5 МБ. Уменьшите его (например, сохраните в JPEG) и загрузите ещё раз.".into(),
        ),
        ImageTooLarge => (
            "The image has too many pixels to process. Scan at 300–600 dpi and upload it again.".into(),
            "Изображение слишком большое для обработки. Отсканируйте документ с разрешением 300–600 dpi и загрузите ещё раз.".into(),
        ),
        PdfNoImage => (
            "The PDF contains no scanned image. Upload a scan of the document (PDF with the scan, JPEG or PNG).".into(),
            "PDF не содержит скан документа. Загрузите скан (PDF со сканом, JPEG или PNG).".into(),
        ),
        ResolutionTooLow => (
            "The scan resolution is below 300 dpi. Scan the document again at 300 dpi or more.".into(),
            "Разрешение скана ниже 300 dpi. Отсканируйте документ заново с разрешением не менее 300 dpi.".into(),
        ),
        ImageUnreadable => (
            "The scan is blurred, too dark or too faint to read. Scan it again in good light, in focus, without shadows.".into(),
            "Скан размыт, слишком тёмный или бледный и не читается. Отсканируйте документ заново при хорошем освещении, в фокусе, без теней.".into(),
        ),
        MrzNotFound => (
            "The machine-readable zone (the two or three lines of <<< at the bottom of the page) was not found. Upload a scan of the whole page with the zone fully visible.".into(),
            "Машиночитаемая зона (две-три строки с символами <<< внизу страницы) не найдена. Загрузите скан всей страницы, чтобы зона была видна полностью.".into(),
        ),
        MrzUnreadable => (
            "The machine-readable zone could not be read. Upload a sharper scan where the zone is not covered, cut off or glared.".into(),
            "Машиночитаемую зону не удалось прочитать. Загрузите более чёткий скан, на котором зона не закрыта, не обрезана и без бликов.".into(),
        ),
        DocumentKindMismatch => (
            "The uploaded document is not of the kind selected. Upload the right document or change the document type in the form.".into(),
            "Загруженный документ не соответствует выбранному типу. Загрузите нужный документ или исправьте тип документа в форме.".into(),
        ),
        SnilsInvalid => (
            "The SNILS in the form is not valid: its check number does not match the other digits. Enter the SNILS exactly as on the insurance certificate, in the form XXX-XXX-XXX YY.".into(),
            "СНИЛС в анкете указан неверно: контрольное число не сходится с остальными цифрами. Введите СНИЛС точно как в страховом свидетельстве, в виде XXX-XXX-XXX YY.".into(),
        ),
        InnInvalid => (
            "The INN in the form is not valid: its check digits do not match (an INN has 12 digits for a person, 10 for an organisation). Enter the INN exactly as in the tax registration certificate.".into(),
            "ИНН в анкете указан неверно: контрольные цифры не сходятся (ИНН физического лица — 12 цифр, организации — 10). Введите ИНН точно как в свидетельстве о постановке на учёт.".into(),
        ),
        DocumentRefused if field.is_none() => (
            "A specialist refused this document: it cannot be accepted for registration. Upload another valid document.".into(),
            "Специалист отказал в приёме этого документа: он не может быть принят для регистрации. Загрузите другой действующий документ.".into(),
        ),
        DocumentRefused => (
            format!("A specialist refused this document: the {en_field} in it cannot be accepted. Upload another valid document."),
            format!("Специалист отказал в приёме этого документа: поле «{ru_field}» в нём не может быть принято. Загрузите другой действующий документ."),
        ),
        CrossDocumentMismatch => (
            format!("The {en_field} on this document differs from another document of the account. A specialist will check that all documents belong to you."),
            format!("Поле «{ru_field}» в этом документе не совпадает с другим документом учётной записи. Специалист проверит, что все документы принадлежат вам."),
        ),
        DuplicateDocument => (
            "This identity document is already registered with another account. A specialist will check it.".into(),
            "Этот документ, удостоверяющий личность, уже зарегистрирован в другой учётной записи. Его проверит специалист.".into(),
        ),
        DocumentExpired => (
            "The document has expired. Upload a valid document.".into(),
            "Срок действия документа истёк. Загрузите действующий документ.".into(),
        ),
        PassportValidityUnder6Months => (
            "The passport is valid for less than 6 months from today. Upload a passport valid for more than 6 months.".into(),
            "Паспорт действителен менее 6 месяцев с сегодняшнего дня. Загрузите паспорт со сроком действия более 6 месяцев.".into(),
        ),
        StayDocumentExpired => (
            "The document permitting your stay is not valid on the submission date. Upload a valid visa, migration card or permit.".into(),
            "Документ, подтверждающий право пребывания, недействителен на дату подачи. Загрузите действующую визу, миграционную карту или разрешение.".into(),
        ),
        FieldMismatch => (
            format!("The {en_field} in the form {} from the document. A specialist will check {}; you may be asked to correct the form.", verb("differs", "differ"), verb("it", "them")),
            format!("Поле «{ru_field}» в анкете не совпадает с документом. Его проверит специалист; возможно, потребуется исправить анкету."),
        ),
        CorrectionRequested if field.is_none() => (
            "A specialist asks you to correct the form so that it matches the document exactly, and to submit it again.".into(),
            "Специалист просит исправить анкету, чтобы она точно совпадала с документом, и подать её снова.".into(),
        ),
        CorrectionRequested => (
            format!("A specialist asks you to correct the {en_field} in the form: enter {} exactly as in the document.", verb("it", "them")),
            format!("Специалист просит исправить поле «{ru_field}» в анкете: укажите его точно как в документе."),
        ),
        MrzChecksumFailed => (
            "The check digits of the machine-readable zone do not agree. A specialist will check the document.".into(),
            "Контрольные цифры машиночитаемой зоны не сходятся. Документ проверит специалист.".into(),
        ),
        VizMismatch => (
            format!("The {en_field} printed on the document differs from its machine-readable zone. A specialist will check the document."),
            format!("Поле «{ru_field}», напечатанное в документе, не совпадает с его машиночитаемой зоной. Документ проверит специалист."),
        ),
        QrMismatch => (
            "The QR code on the document does not agree with the printed data. A specialist will check the document.".into(),
            "Данные QR-кода на документе не совпадают с напечатанными. Документ проверит специалист.".into(),
        ),
        ProcessingFailed => (
            "The document could not be processed automatically. A specialist will check it; you do not need to upload it again.".into(),
            "Документ не удалось обработать автоматически. Его проверит специалист; загружать его повторно не нужно.".into(),
        ),
        LowConfidence if field.is_none() => (
            "The document's data could not be read with confidence. A specialist will check the document.".into(),
            "Данные документа не удалось уверенно распознать. Документ проверит специалист.".into(),
        ),
        LowConfidence => (
            format!("The {en_field} could not be confirmed automatically. A specialist will check {}.", verb("it", "them")),
            format!("Поле «{ru_field}» не удалось подтвердить автоматически. Его проверит специалист."),
        ),
        TransliterationEquivalent => (
            format!("The {en_field} in the form {} a transliteration of the document's spelling; accepted.", verb("is", "are")),
            format!("Поле «{ru_field}» в анкете — транслитерация написания в документе; принято."),
        ),
        DateFormatEquivalent => (
            format!("The {en_field} in the form is the same date in another format; accepted."),
            format!("Поле «{ru_field}» в анкете — та же дата в другом формате; принято."),
        ),
        AutoRotated => (
            "The scan was rotated; it was turned automatically.".into(),
            "Скан был повёрнут; он развёрнут автоматически.".into(),
        ),
        ExtraPages => (
            "The PDF has pages that do not show the document; only the document's page was checked. Next time, upload only the pages of the document itself.".into(),
            "В PDF есть страницы, на которых нет документа; проверена только страница с документом. В следующий раз загружайте только страницы самого документа.".into(),
        ),
        FileTruncated => (
            "The file ends early (it was not saved or uploaded completely); the part that is there was checked. If anything of the document is missing, save the scan again and re-upload it.".into(),
            "Файл обрывается (сохранён или загружен не полностью); проверена та часть, что есть. Если часть документа отсутствует, сохраните скан заново и загрузите его ещё раз.".into(),
        ),
        IdentityDocumentMissing => (
            "Upload a valid identity document: a foreign or national passport, an ID card, a temporary travel document, a refugee certificate or a residence permit.".into(),
            "Загрузите действующий документ, удостоверяющий личность: заграничный или национальный паспорт, ID-карту, временный проездной документ, удостоверение беженца или вид на жительство.".into(),
        ),
        StayDocumentMissing => (
            "Upload a valid document permitting your stay: a visa, migration card, residence permit, temporary residence permit, work permit, work patent or registration at the place of stay.".into(),
            "Загрузите действующий документ, подтверждающий право пребывания: визу, миграционную карту, вид на жительство, разрешение на временное проживание, разрешение на работу, патент или регистрацию по месту пребывания.".into(),
        ),
    };
    (en, ru)
}

/// `document_kind_mismatch` naming the kind declared and the kind the
/// document shows.
pub fn kind_mismatch(declared: DocumentKind, shown: DocumentKind) -> Finding {
    let ((declared_en, declared_ru), (shown_en, shown_ru)) = (declared.names(), shown.names());
    Finding {
        code: ReasonCode::DocumentKindMismatch,
        field: None,
        message: format!("The uploaded document is not of the kind selected ({declared_en}): it looks like another kind ({shown_en}). Upload the right document or change the document type in the form."),
        message_ru: format!("Загруженный документ похож на документ «{shown_ru}», а выбран тип «{declared_ru}». Загрузите нужный документ или исправьте тип документа в форме."),
    }
}

/// `format_unsupported` for a HEIC/HEIF photo (the iPhone's default), with
/// how to get a JPEG instead.
pub fn heic_unsupported() -> Finding {
    Finding {
        code: ReasonCode::FormatUnsupported,
        field: None,
        message: "This is a HEIC photo, which is not accepted. Upload it as JPEG: on an iPhone choose Settings > Camera > Formats > Most Compatible and take the photo again, or open the photo, tap Share > Save to Files / Mail and pick JPEG (\"Actual Size\" keeps the resolution); on a computer, open it and use Export / Save as JPEG.".into(),
        message_ru: "Это фото в формате HEIC, он не принимается. Загрузите его в JPEG: на iPhone выберите Настройки > Камера > Форматы > Наиболее совместимый и сфотографируйте заново, или откройте фото, нажмите Поделиться > Сохранить в Файлы / Почта и выберите JPEG («Фактический размер» сохраняет разрешение); на компьютере откройте фото и выберите Экспорт / Сохранить как JPEG.".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kind_mismatch_names_both_kinds() {
        let f = kind_mismatch(DocumentKind::MigrationCard, DocumentKind::WorkPatent);
        assert_eq!(f.code, ReasonCode::DocumentKindMismatch);
        assert!(f.message.contains("work patent") && f.message.contains("migration card"));
        assert!(
            f.message_ru.contains("патент на работу")
                && f.message_ru.contains("миграционная карта")
        );
    }

    #[test]
    fn field_messages_name_the_field() {
        let f = finding(ReasonCode::FieldMismatch, Some(Field::Surname));
        assert!(f.message.contains("surname"));
        assert!(f.message_ru.contains("фамилия"));
    }
}
