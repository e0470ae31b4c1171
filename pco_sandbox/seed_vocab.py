"""Word lists for the synthetic church: names (with the accents, apostrophes and hyphens real
rosters have), streets, towns, area codes and ministry vocabulary. Data only.

No name contains a character whose lower-casing differs between Python's `str.casefold` and
PostgreSQL's `lower()` (such as ß), so case-insensitive name matching agrees in both places.
"""

from __future__ import annotations

FEMALE_FIRST = (
    "Mary", "María", "Maria", "Sofía", "Sophia", "Zoë", "Chloé", "Renée", "Anaïs", "Siobhán", "Léa",
    "Ana", "Ngozi", "Aisha", "Mei", "Yuki", "Priya", "Olivia", "Emma", "Ava", "Isabella", "Mia",
    "Charlotte", "Amelia", "Harper", "Evelyn", "Abigail", "Emily", "Elizabeth", "Avery", "Ella",
    "Scarlett", "Grace", "Victoria", "Riley", "Aria", "Lily", "Aubrey", "Penelope", "Lillian",
    "Addison", "Layla", "Natalie", "Camila", "Hannah", "Brooklyn", "Leah", "Nora", "Savannah",
    "Audrey", "Claire", "Eleanor", "Skylar", "Ellie", "Samantha", "Stella", "Violet", "Mila",
    "Allison", "Anna", "Hazel", "Aaliyah", "Lucy", "Caroline", "Sarah", "Kennedy", "Sadie",
    "Gabriella", "Madelyn", "Adeline", "Maya", "Autumn", "Aurora", "Piper", "Naomi", "Ruby", "Eva",
    "Jennifer", "Linda", "Patricia", "Barbara", "Susan", "Jessica", "Karen", "Nancy", "Lisa",
    "Margaret", "Sandra", "Ashley", "Kimberly", "Donna", "Michelle", "Dorothy", "Carol", "Amanda",
    "Melissa", "Deborah", "Stephanie", "Rebecca", "Sharon", "Laura", "Cynthia", "Katherine", "Amy",
    "Angela", "Brenda", "Pamela", "Nicole", "Ruth", "Christine", "Marie-Claire", "Anne-Marie",
    "Mary-Kate", "Ingrid", "Åsa", "Małgorzata", "Zuzanna", "Agnieszka", "Fatima", "Lucía",
    "Valentina", "Ximena", "Guadalupe", "Inés", "Begoña", "Thảo", "Linh", "Ngọc", "Ji-woo",
    "Seo-yeon", "Hana", "Chiamaka", "Adaeze", "Oluwadamilare", "Nadia", "Leila", "Yasmin", "Esther",
    "Miriam", "Rosa", "Beatriz", "Joséphine", "Mariana", "Paola", "Carmen", "Dolores", "Noemí",
)

MALE_FIRST = (
    "James", "John", "Robert", "Michael", "William", "David", "Richard", "Joseph", "Thomas",
    "Charles", "Christopher", "Daniel", "Matthew", "Anthony", "Mark", "Donald", "Steven", "Paul",
    "Andrew", "Joshua", "Kenneth", "Kevin", "Brian", "George", "Timothy", "Ronald", "Edward",
    "Jason", "Jeffrey", "Ryan", "Jacob", "Gary", "Nicholas", "Eric", "Jonathan", "Stephen", "Larry",
    "Justin", "Scott", "Brandon", "Benjamin", "Samuel", "Gregory", "Alexander", "Patrick", "Frank",
    "Raymond", "Jack", "Dennis", "Tyler", "Aaron", "Jose", "José", "Adam", "Nathan", "Henry",
    "Zachary", "Douglas", "Peter", "Kyle", "Noah", "Ethan", "Jeremy", "Walter", "Christian", "Keith",
    "Roger", "Austin", "Sean", "Carl", "Harold", "Dylan", "Arthur", "Lawrence", "Jordan", "Jesse",
    "Bryan", "Bruce", "Gabriel", "Logan", "Alan", "Juan", "Albert", "Elijah", "Wayne", "Vincent",
    "Mason", "Roy", "Ralph", "Russell", "Bradley", "Philip", "Eugene", "Liam", "Oliver", "Lucas",
    "Mateo", "Santiago", "Sebastián", "Nicolás", "Andrés", "Joaquín", "Martín", "Jesús", "Ramón",
    "François", "Jérôme", "René", "André", "Søren", "Bjørn", "Håkon", "Jürgen", "Łukasz", "Paweł",
    "Jakub", "Krzysztof", "Minh", "Quang", "Đức", "Hiroshi", "Kenji", "Wei", "Jian", "Chinedu",
    "Oluwaseun", "Kwame", "Mohammed", "Omar", "Tomás", "Seán", "Ciarán", "Eoin", "Jean-Luc",
    "Jean-Pierre", "Luis", "Carlos", "Miguel", "Alejandro", "Diego", "Emmanuel", "Isaac", "Caleb",
)

# Formal first name -> what people actually go by (PCO `nickname`; also the local near-misses).
NICKNAMES = {
    "William": ("Bill", "Will", "Billy"), "Robert": ("Bob", "Rob", "Bobby"), "Richard": ("Rick", "Rich"),
    "James": ("Jim", "Jimmy", "Jamie"), "Michael": ("Mike", "Mikey"), "Elizabeth": ("Liz", "Beth", "Betsy"),
    "Katherine": ("Kate", "Katie", "Kathy"), "Margaret": ("Maggie", "Peggy", "Meg"),
    "Christopher": ("Chris",), "Joseph": ("Joe", "Joey"), "Thomas": ("Tom", "Tommy"),
    "Daniel": ("Dan", "Danny"), "Matthew": ("Matt",), "Anthony": ("Tony",), "Jennifer": ("Jen", "Jenny"),
    "Jessica": ("Jess",), "Samantha": ("Sam",), "Alexander": ("Alex", "Xander"), "Nicholas": ("Nick",),
    "Benjamin": ("Ben",), "Jonathan": ("Jon",), "Stephen": ("Steve",), "Steven": ("Steve",),
    "Patricia": ("Patty", "Trish"), "Deborah": ("Debbie", "Deb"), "Rebecca": ("Becky", "Becca"),
    "Susan": ("Sue", "Susie"), "Kimberly": ("Kim",), "Timothy": ("Tim",), "Edward": ("Ed", "Ted", "Eddie"),
    "Gregory": ("Greg",), "Andrew": ("Andy", "Drew"), "Zachary": ("Zach",), "Abigail": ("Abby",),
    "Victoria": ("Tori", "Vicky"), "Gabriella": ("Gabby", "Ella"), "Isabella": ("Bella", "Izzy"),
    "Eleanor": ("Ellie", "Nora"), "Jacob": ("Jake",), "Samuel": ("Sam", "Sammy"), "Joshua": ("Josh",),
    "Francisco": ("Paco",), "José": ("Pepe",), "Guadalupe": ("Lupe",), "Dolores": ("Lola",),
    "Alejandro": ("Alex",), "Santiago": ("Santi",), "Joaquín": ("Quino",),
}

LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "García", "Miller", "Davis",
    "Rodríguez", "Rodriguez", "Martínez", "Hernández", "López", "Gonzalez", "Wilson", "Anderson",
    "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee", "Pérez", "Thompson", "White", "Harris",
    "Sánchez", "Clark", "Ramírez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright",
    "Scott", "Torres", "Nguyen", "Nguyễn", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker",
    "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts", "Gómez", "Phillips", "Evans",
    "Turner", "Díaz", "Parker", "Cruz", "Edwards", "Collins", "Reyes", "Stewart", "Morris",
    "Morales", "Murphy", "Cook", "Rogers", "Gutiérrez", "Ortiz", "Morgan", "Cooper", "Peterson",
    "Bailey", "Reed", "Kelly", "Howard", "Ramos", "Kim", "Cox", "Ward", "Richardson", "Watson",
    "Brooks", "Chavez", "Wood", "James", "Bennett", "Gray", "Mendoza", "Ruiz", "Hughes", "Price",
    "Alvarez", "Castillo", "Sanders", "Patel", "Myers", "Long", "Ross", "Foster", "Jiménez",
    "O'Brien", "O'Connor", "O'Neill", "D'Angelo", "D'Souza", "McAllister", "MacDonald", "McKenzie",
    "Muñoz", "Núñez", "Peña", "Ibáñez", "Castañeda", "Zúñiga", "Begay", "Yazzie", "Dubois",
    "Lefèvre", "Bélanger", "Côté", "Gagnon", "Müller", "Schröder", "Nowak", "Kowalski", "Wiśniewski",
    "Wójcik", "Kowalczyk", "Søndergaard", "Østergaard", "Åberg", "Lindqvist", "Björklund", "Tanaka",
    "Suzuki", "Watanabe", "Chen", "Wang", "Li", "Zhang", "Liu", "Huang", "Park", "Choi", "Okafor",
    "Adeyemi", "Mensah", "Van der Berg", "van Dyke", "De la Cruz", "St. John", "Smith-Jones",
    "Ortega-Ruiz", "Trần", "Phạm", "Lê", "Hoang", "Oyelaran", "Abernathy", "Fitzgerald", "Whitaker",
    "Delacroix", "Haddad", "Khalil", "Nasser", "Rossi", "Bianchi", "Esposito", "Ferreira", "Silva",
    "Santos", "Oliveira", "Gonçalves", "Kaczmarek", "Horvath", "Novák", "Dvořák", "Petrović",
)

MIDDLE_NAMES = (
    "Marie", "Ann", "Lynn", "Grace", "Rose", "Jane", "Elizabeth", "Louise", "Jean", "Michelle",
    "James", "Lee", "Allen", "Wayne", "Ray", "Edward", "Joseph", "Thomas", "Alan", "Lucía", "José",
)

STREETS = (
    "Oak", "Maple", "Cedar", "Elm", "Pine", "Washington", "Lake", "Hill", "Park", "Main", "Church",
    "Sunset", "Willow", "Jefferson", "Lincoln", "Highland", "Meadow", "River", "Spring", "Chestnut",
    "Walnut", "Magnolia", "Dogwood", "Hickory", "Birch", "Cherry", "Franklin", "Madison", "Ridge",
    "Valley", "Forest", "Mill", "Center", "College", "Prairie", "Orchard", "Stonebridge", "Fox Run",
    "Camino Real", "Old Jacksonville", "Wabash", "MacArthur", "Chatham", "Iles", "Lindbergh",
)
STREET_SUFFIXES = ("St", "St.", "Street", "Ave", "Avenue", "Rd", "Road", "Dr", "Drive", "Ln", "Lane",
                   "Ct", "Blvd", "Way", "Pl", "Cir", "Trl")
UNIT_PREFIXES = ("Apt", "Apt.", "Unit", "#", "Suite", "Lot")

# (city, state, zip codes) around the church, plus a few people who moved away.
TOWNS = (
    ("Springfield", "IL", ("62701", "62702", "62703", "62704", "62707", "62711", "62712")),
    ("Chatham", "IL", ("62629",)),
    ("Rochester", "IL", ("62563",)),
    ("Sherman", "IL", ("62684",)),
    ("Riverton", "IL", ("62561",)),
    ("Jacksonville", "IL", ("62650",)),
    ("Petersburg", "IL", ("62675",)),
    ("Auburn", "IL", ("62615",)),
    ("Decatur", "IL", ("62521", "62526")),
    ("Lincoln", "IL", ("62656",)),
)
FAR_TOWNS = (
    ("St. Louis", "MO", ("63104", "63110")),
    ("Chicago", "IL", ("60614", "60657")),
    ("Indianapolis", "IN", ("46204",)),
    ("Nashville", "TN", ("37203",)),
)
STATE_NAMES = {"IL": "Illinois", "MO": "Missouri", "IN": "Indiana", "TN": "Tennessee"}

# Area codes: mostly local (217 and its 447 overlay), then where people moved from.
LOCAL_AREA_CODES = ("217", "447")
OTHER_AREA_CODES = (
    "309", "618", "312", "773", "630", "847", "314", "636", "317", "615", "312", "414", "608",
    "612", "651", "515", "319", "402", "816", "913", "502", "513", "614", "216", "313", "248",
    "412", "215", "212", "718", "917", "201", "617", "202", "404", "305", "407", "813", "704",
    "919", "615", "901", "504", "713", "214", "512", "210", "303", "602", "480", "702", "801",
    "206", "503", "415", "510", "408", "213", "310", "619", "808", "907",
)
EMAIL_DOMAINS = ("example.org", "example.com", "example.net")

MEDICAL_NOTES = (
    "Peanut allergy", "Tree nut allergy - EpiPen in diaper bag", "Asthma; inhaler in backpack",
    "Type 1 diabetes", "Allergic to bee stings (EpiPen)", "Lactose intolerant", "Gluten free",
    "No red dye", "Egg allergy", "Seizure plan on file",
)
ALLERGIES = (
    "Peanuts", "Tree nuts", "Dairy", "Eggs", "Bee stings", "Gluten", "Shellfish", "Latex",
    "Penicillin", "Red dye 40",
)

GROUP_TYPES = (
    # name, color, description
    ("Small Groups", "#2e7d32", "Weekly groups that meet in homes across town."),
    ("Classes", "#1565c0", "Short-term classes for learning and growth."),
    ("Serve Teams", "#ef6c00", "Teams that serve on Sundays and through the week."),
    ("Support & Recovery", "#6a1b9a", "Confidential support groups."),
    ("Students", "#c62828", "Middle and high school small groups."),
    ("Unique", "#546e7a", "Groups that don't fit anywhere else."),
)
NEIGHBORHOODS = (
    "Westside", "Eastside", "Downtown", "Leland Grove", "Chatham", "Rochester", "Sherman",
    "Jerome", "Southern View", "Lake Springfield", "Hazel Dell", "Enos Park", "Harvard Park",
    "Pasfield", "Oak Ridge", "Fox Bridge",
)
SMALL_GROUP_KINDS = (
    "Couples Group", "Men's Group", "Women's Bible Study", "Young Adults", "Young Marrieds",
    "Empty Nesters", "Moms Group", "Grupo en Español", "Prayer Group", "Senior Saints",
    "Young Families", "Men's Breakfast",
)
CLASS_NAMES = (
    "Financial Peace", "Membership 101", "Alpha", "Marriage Prep", "Discipleship Essentials",
    "Parenting Teens", "Intro to the Bible", "Spiritual Gifts", "Grief & Loss", "Foundations",
)
SERVE_TEAMS = (
    "Greeters", "Ushers", "Parking Team", "Coffee Team", "Production & Sound", "Worship Band",
    "Choir", "Kids Check-In", "Nursery Team", "Preschool Team", "Elementary Team", "Prayer Team",
    "Hospitality", "Facilities Crew", "Welcome Desk", "Security Team", "Photography",
)
SUPPORT_GROUPS = ("GriefShare", "DivorceCare", "Celebrate Recovery", "Cancer Support",
                  "Caregivers Circle", "Foster & Adoptive Families")
STUDENT_GROUPS = ("6th Grade Guys", "6th Grade Girls", "7th-8th Guys", "7th-8th Girls",
                  "HS Freshman Girls", "HS Freshman Guys", "HS Upperclass Guys", "HS Upperclass Girls")
UNIQUE_GROUPS = ("Knitting Ministry", "Running Club", "Mission Trip: Guatemala", "Board Game Night",
                 "Community Garden", "Book Club", "Homeschool Co-op")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
