"""The words of the demo data (bot.demo.year): residents' suggestions, criticism, questions and
praise per field of action, in the vocabulary of the city's round table, with the working
groups' answers and reasons."""

from __future__ import annotations

# One pool to a line, alternatives split by " | ". Per field of action ("*" for the fields the
# example configuration does not name): need (accusative: what residents ask for), seen (an
# observation), ask (a question), good (accusative: what they praise), done (how a working
# group reports a suggestion implemented). Then the texts by kind, the closing words, the
# coordinators' first answers, the reasons for declining, and first names by language.
VOCABULARY = """
bildung.need mehr Sprachkurse am Abend für Berufstätige | Kita-Plätze mit Sprachförderung in der Nordstadt | Hausaufgabenhilfe in der Stadtteilbibliothek | Elterncafés mit Sprachmittlung an den Grundschulen
bildung.seen Auf einen Integrationskurs wartet man hier über ein halbes Jahr | In der Nordstadt gibt es keinen Alphabetisierungskurs mit Kinderbetreuung | Die Elternbriefe der Schule kommen nur auf Deutsch | Viele Familien finden keinen Kita-Platz in der Nähe
bildung.ask Wo kann ich einen B1-Kurs mit Kinderbetreuung machen? | Gibt es Sprachkurse am Wochenende? | Wer übernimmt die Kosten für die Prüfung zum Deutsch-Test für Zuwanderer?
bildung.good den neuen Sprachtreff in der Stadtbibliothek | die Lernpatenschaften an der Gesamtschule
bildung.done Die VHS bietet ab dem Frühjahr zwei Abendkurse in der Nordstadt an. | Drei Grundschulen haben jetzt ein Elterncafé mit Sprachmittlung.
arbeit.need eine schnellere Anerkennung ausländischer Berufsabschlüsse | Praktikumsplätze bei der Stadtverwaltung für Geflüchtete | eine Beratung zur Anerkennung im Bürgerbüro | berufsbezogene Sprachkurse für Pflegekräfte
arbeit.seen Mein Abschluss als Ingenieurin wird seit über einem Jahr geprüft | Ohne Anerkennung arbeiten viele Fachkräfte als Hilfskräfte | Beim Jobcenter gibt es keine Beratung auf Arabisch | Die Wartezeit auf einen Termin bei der Anerkennungsberatung ist zu lang
arbeit.ask Welche Stelle prüft meinen Berufsabschluss aus der Ukraine? | Darf ich mit meiner Aufenthaltserlaubnis eine Ausbildung beginnen? | Gibt es Hilfe bei den Kosten für die Übersetzung meiner Zeugnisse?
arbeit.good die Jobmesse im Rathaus | die schnelle Hilfe der Anerkennungsberatung
arbeit.done Die Anerkennungsberatung hat jetzt eine offene Sprechstunde jeden Dienstag im Bürgerbüro. | Die Stadtverwaltung bietet zehn Praktikumsplätze für Geflüchtete an.
wohnen.need Hilfe bei der Wohnungssuche für große Familien | mehr bezahlbare Wohnungen in allen Stadtteilen | ein Nachbarschaftsfest im Quartier | Hausordnungen in mehreren Sprachen
wohnen.seen Auf Wohnungsanzeigen mit einem ausländischen Namen bekommt man kaum eine Antwort | Wir wohnen seit zwei Jahren zu fünft in zwei Zimmern | In der Gemeinschaftsunterkunft gibt es keinen ruhigen Raum zum Lernen | Im Quartier fehlt ein Treffpunkt für Jugendliche
wohnen.ask Wo bekomme ich einen Wohnberechtigungsschein? | Wer hilft bei Streit mit dem Vermieter? | Gibt es eine Beratung zur Wohnungssuche auf Englisch?
wohnen.good das Nachbarschaftsfest im Westpark | die Wohnraumberatung im Stadtteilbüro
wohnen.done Das Stadtteilbüro bietet jetzt zweimal im Monat eine Wohnraumberatung mit Dolmetscherin an. | Die städtische Wohnungsgesellschaft hat ihre Hausordnung in sechs Sprachen übersetzt.
gesundheit.need Dolmetscherdienste beim Arztbesuch | eine Liste der Arztpraxen mit Fremdsprachenkenntnissen | psychologische Beratung für Geflüchtete in ihrer Sprache | Informationen zur Krankenversicherung in einfacher Sprache
gesundheit.seen Beim Kinderarzt musste meine zehnjährige Tochter übersetzen | Auf einen Therapieplatz wartet man über ein Jahr | Viele ältere Migrantinnen und Migranten wissen nichts über Pflegeangebote | In der Notaufnahme gab es niemanden, der Russisch spricht
gesundheit.ask Wer bezahlt eine Dolmetscherin beim Arzt? | Gibt es einen Hausarzt, der Türkisch spricht? | Wo kann ich mich zur Pflege meiner Mutter beraten lassen?
gesundheit.good den Gesundheitstag im Bürgerhaus | die Gesundheitslotsinnen im Stadtteil
gesundheit.done Das Gesundheitsamt vermittelt jetzt Sprachmittlung per Video für Arztpraxen. | Die Liste der Praxen mit Fremdsprachenkenntnissen steht auf der Website der Stadt.
antirassismus.need eine unabhängige Antidiskriminierungsstelle in der Stadt | Schulungen gegen Rassismus für Mitarbeitende der Ausländerbehörde | eine Meldestelle für rassistische Vorfälle | Workshops gegen Rassismus an Schulen
antirassismus.seen Meine Freundin mit Kopftuch wurde im Bus beleidigt | Am Eingang der Disco werden Schwarze Jugendliche abgewiesen | In der Ausländerbehörde wurde ich unfreundlich behandelt | Diskriminierung bei der Wohnungssuche passiert hier jeden Tag
antirassismus.ask Wo kann ich Diskriminierung melden? | Was passiert mit einer Beschwerde über eine Behörde? | Gibt es rechtliche Beratung bei Diskriminierung am Arbeitsplatz?
antirassismus.good die Aktionswochen gegen Rassismus | die schnelle Hilfe der Antidiskriminierungsberatung
antirassismus.done Die Antidiskriminierungsberatung hat eine Online-Meldestelle eingerichtet. | Alle Mitarbeitenden der Ausländerbehörde nehmen dieses Jahr an einer Schulung teil.
teilhabe.need mehr Sitze für Migrantinnen und Migranten im Integrationsbeirat | Sitzungen des Beirats am Abend | Lokaltermine in jedem Stadtteil | Informationen zu Beiräten in mehreren Sprachen
teilhabe.seen Beim Runden Tisch Integration kommen immer dieselben Leute zu Wort | Die Sitzungen des Integrationsbeirats sind tagsüber, wenn wir arbeiten | Viele Vereine wissen nicht, wie sie Fördermittel beantragen | Von der Interkulturellen Woche habe ich erst hinterher erfahren
teilhabe.ask Wie kann ich im Integrationsbeirat mitmachen? | Darf ich ohne deutschen Pass bei der Beiratswahl wählen? | Wann ist der nächste Runde Tisch Integration?
teilhabe.good den Runden Tisch Integration | die Interkulturelle Woche
teilhabe.done Der Integrationsbeirat tagt ab dem Herbst abwechselnd am Abend. | Die Einladungen zur Interkulturellen Woche gehen jetzt auch über diesen Bot an alle, die sie abonniert haben.
*.need Formulare der Stadt in einfacher Sprache | längere Öffnungszeiten im Bürgerbüro | einen Dolmetscherdienst bei Behördengängen | eine zentrale Beratungsstelle für Neuzugewanderte
*.seen Auf einen Termin bei der Ausländerbehörde wartet man drei Monate | Die Website der Stadt gibt es nur auf Deutsch | Niemand weiß, wer für was zuständig ist | Die Bescheide sind für uns kaum zu verstehen
*.ask Wo finde ich eine Beratung in meiner Sprache? | Wer ist für meine Frage zuständig? | Wie lange dauert die Verlängerung meines Aufenthaltstitels?
*.good die freundliche Beratung im Bürgerbüro | das Willkommensfest im Sommer
*.done Das Bürgerbüro bietet jetzt Termine am Samstagvormittag an. | Die wichtigsten Formulare gibt es jetzt in Leichter Sprache.
frame.suggestion {seen}. Mein Vorschlag: {need}. | Ich wünsche mir {need}. {seen}. | Bitte sorgen Sie für {need}. | {seen}. Wir brauchen dringend {need}.
frame.criticism {seen}. Das muss sich ändern. | {seen}. So fühlt man sich nicht willkommen. | {seen}. Das habe ich schon beim Lokaltermin gesagt, passiert ist nichts.
frame.question {ask} | {seen}. {ask} | {ask} Auf der Website habe ich nichts gefunden.
frame.praise Vielen Dank für {good}! | Ein großes Lob für {good}. Bitte weiter so. | Ich möchte mich für {good} bedanken, das hilft unserer Familie sehr.
closing Viele Grüße | Danke fürs Zuhören. | Das betrifft viele Familien in unserem Viertel. | Vielleicht kann man das beim nächsten Runden Tisch besprechen.
reply Vielen Dank für Ihre Nachricht. Wir besprechen das in der nächsten Sitzung der Unter-AG. | Danke! Wir haben bei der zuständigen Stelle nachgefragt und melden uns wieder. | Danke für den Hinweis. Die Beratung im Bürgerhaus hilft dienstags von 10 bis 12 Uhr weiter. | Wir nehmen Ihr Anliegen mit zum Runden Tisch Integration.
declined Dafür ist das Land zuständig; wir haben die Anregung an das Ministerium weitergegeben. | Im Haushalt sind dafür keine Mittel vorgesehen; wir bringen es in die nächsten Haushaltsberatungen ein. | Das Angebot gibt es bereits beim Jobcenter; wir machen es bekannter, statt ein zweites aufzubauen. | Der Träger hat dafür keine Fachkräfte gefunden; wir suchen weiter nach einem Partner.
name.de Anna | Jonas | Lea | Lukas | Maria | Tom | Sabine | Klaus
name.en Grace | James | Priya | Samuel
name.tr Ayşe | Emre | Elif | Mehmet | Yusuf
name.ar Ahmad | Amira | Fatima | Omar | Rania
name.uk Dmytro | Olena | Oksana | Taras
name.ru Igor | Natalia | Swetlana | Pawel
name.de_simple Ali | Nina
"""  # noqa: E501
POOLS = {
    key: text.split(" | ")
    for key, _, text in (line.partition(" ") for line in VOCABULARY.strip().splitlines())
}


def pool(field: str, name: str) -> list[str]:
    return POOLS.get(f"{field}.{name}") or POOLS[f"*.{name}"]
