"""Reference data the generator draws from: states, cities, zip ranges, categories."""

# code, name, region, share of customers (%), first zip prefix, last zip prefix,
# cities as (name, lat, lng), capital first.
STATES: list[tuple[str, str, str, float, int, int, list[tuple[str, float, float]]]] = [
    ("SP", "São Paulo", "Southeast", 41.9, 1000, 19999, [
        ("São Paulo", -23.55, -46.63), ("Campinas", -22.91, -47.06),
        ("Guarulhos", -23.46, -46.53), ("Santo André", -23.66, -46.53),
        ("Ribeirão Preto", -21.18, -47.81), ("São José dos Campos", -23.18, -45.88)]),
    ("RJ", "Rio de Janeiro", "Southeast", 12.9, 20000, 28999, [
        ("Rio de Janeiro", -22.91, -43.17), ("Niterói", -22.88, -43.10),
        ("Nova Iguaçu", -22.76, -43.45), ("Petrópolis", -22.51, -43.18)]),
    ("MG", "Minas Gerais", "Southeast", 11.7, 30000, 39999, [
        ("Belo Horizonte", -19.92, -43.94), ("Uberlândia", -18.92, -48.28),
        ("Juiz de Fora", -21.76, -43.35), ("Contagem", -19.93, -44.05)]),
    ("RS", "Rio Grande do Sul", "South", 5.5, 90000, 99999, [
        ("Porto Alegre", -30.03, -51.23), ("Caxias do Sul", -29.17, -51.18),
        ("Pelotas", -31.77, -52.34)]),
    ("PR", "Paraná", "South", 5.1, 80000, 87999, [
        ("Curitiba", -25.43, -49.27), ("Londrina", -23.31, -51.16), ("Maringá", -23.42, -51.94)]),
    ("SC", "Santa Catarina", "South", 3.7, 88000, 89999, [
        ("Florianópolis", -27.59, -48.55), ("Joinville", -26.30, -48.85),
        ("Blumenau", -26.92, -49.07)]),
    ("BA", "Bahia", "Northeast", 3.4, 40000, 48999, [
        ("Salvador", -12.97, -38.50), ("Feira de Santana", -12.27, -38.97),
        ("Vitória da Conquista", -14.86, -40.84)]),
    ("DF", "Distrito Federal", "Central-West", 2.2, 70000, 72799, [
        ("Brasília", -15.79, -47.88), ("Taguatinga", -15.83, -48.06)]),
    ("ES", "Espírito Santo", "Southeast", 2.0, 29000, 29999, [
        ("Vitória", -20.32, -40.34), ("Vila Velha", -20.33, -40.29), ("Serra", -20.13, -40.31)]),
    ("GO", "Goiás", "Central-West", 2.0, 74000, 76799, [
        ("Goiânia", -16.69, -49.26), ("Anápolis", -16.33, -48.95),
        ("Aparecida de Goiânia", -16.82, -49.24)]),
    ("PE", "Pernambuco", "Northeast", 1.7, 50000, 56999, [
        ("Recife", -8.05, -34.88), ("Jaboatão dos Guararapes", -8.11, -35.01),
        ("Olinda", -8.01, -34.85)]),
    ("CE", "Ceará", "Northeast", 1.3, 60000, 63999, [
        ("Fortaleza", -3.73, -38.52), ("Caucaia", -3.74, -38.65),
        ("Juazeiro do Norte", -7.21, -39.31)]),
    ("PA", "Pará", "North", 1.0, 66000, 68899, [
        ("Belém", -1.46, -48.49), ("Ananindeua", -1.37, -48.37), ("Santarém", -2.44, -54.71)]),
    ("MT", "Mato Grosso", "Central-West", 0.9, 78000, 78899, [
        ("Cuiabá", -15.60, -56.10), ("Várzea Grande", -15.65, -56.13),
        ("Rondonópolis", -16.47, -54.64)]),
    ("MA", "Maranhão", "Northeast", 0.75, 65000, 65999, [
        ("São Luís", -2.53, -44.30), ("Imperatriz", -5.53, -47.48)]),
    ("MS", "Mato Grosso do Sul", "Central-West", 0.7, 79000, 79999, [
        ("Campo Grande", -20.47, -54.62), ("Dourados", -22.22, -54.81)]),
    ("PB", "Paraíba", "Northeast", 0.54, 58000, 58999, [
        ("João Pessoa", -7.12, -34.86), ("Campina Grande", -7.23, -35.88)]),
    ("PI", "Piauí", "Northeast", 0.5, 64000, 64999, [
        ("Teresina", -5.09, -42.80), ("Parnaíba", -2.90, -41.77)]),
    ("RN", "Rio Grande do Norte", "Northeast", 0.49, 59000, 59999, [
        ("Natal", -5.79, -35.21), ("Mossoró", -5.19, -37.34)]),
    ("AL", "Alagoas", "Northeast", 0.42, 57000, 57999, [
        ("Maceió", -9.67, -35.74), ("Arapiraca", -9.75, -36.66)]),
    ("SE", "Sergipe", "Northeast", 0.35, 49000, 49999, [
        ("Aracaju", -10.91, -37.07), ("Lagarto", -10.92, -37.65)]),
    ("TO", "Tocantins", "North", 0.28, 77000, 77999, [
        ("Palmas", -10.18, -48.33), ("Araguaína", -7.19, -48.21)]),
    ("RO", "Rondônia", "North", 0.25, 76800, 76999, [
        ("Porto Velho", -8.76, -63.90), ("Ji-Paraná", -10.88, -61.95)]),
    ("AM", "Amazonas", "North", 0.15, 69000, 69299, [
        ("Manaus", -3.12, -60.02), ("Parintins", -2.63, -56.74)]),
    ("AC", "Acre", "North", 0.08, 69900, 69999, [
        ("Rio Branco", -9.97, -67.81), ("Cruzeiro do Sul", -7.63, -72.67)]),
    ("AP", "Amapá", "North", 0.07, 68900, 68999, [
        ("Macapá", 0.03, -51.07), ("Santana", -0.06, -51.17)]),
    ("RR", "Roraima", "North", 0.05, 69300, 69399, [
        ("Boa Vista", 2.82, -60.67), ("Rorainópolis", 0.94, -60.42)]),
]

# Portuguese category name -> English, as in product_category_name_translation.csv (71 rows).
CATEGORY_TRANSLATIONS: list[tuple[str, str]] = [
    ("beleza_saude", "health_beauty"),
    ("informatica_acessorios", "computers_accessories"),
    ("automotivo", "auto"),
    ("cama_mesa_banho", "bed_bath_table"),
    ("moveis_decoracao", "furniture_decor"),
    ("esporte_lazer", "sports_leisure"),
    ("perfumaria", "perfumery"),
    ("utilidades_domesticas", "housewares"),
    ("telefonia", "telephony"),
    ("relogios_presentes", "watches_gifts"),
    ("alimentos_bebidas", "food_drink"),
    ("bebes", "baby"),
    ("papelaria", "stationery"),
    ("tablets_impressao_imagem", "tablets_printing_image"),
    ("brinquedos", "toys"),
    ("telefonia_fixa", "fixed_telephony"),
    ("ferramentas_jardim", "garden_tools"),
    ("fashion_bolsas_e_acessorios", "fashion_bags_accessories"),
    ("eletroportateis", "small_appliances"),
    ("consoles_games", "consoles_games"),
    ("audio", "audio"),
    ("fashion_calcados", "fashion_shoes"),
    ("cool_stuff", "cool_stuff"),
    ("malas_acessorios", "luggage_accessories"),
    ("climatizacao", "air_conditioning"),
    ("construcao_ferramentas_construcao", "construction_tools_construction"),
    ("moveis_cozinha_area_de_servico_jantar_e_jardim", "kitchen_dining_laundry_garden_furniture"),
    ("construcao_ferramentas_jardim", "costruction_tools_garden"),
    ("fashion_roupa_masculina", "fashion_male_clothing"),
    ("pet_shop", "pet_shop"),
    ("moveis_escritorio", "office_furniture"),
    ("market_place", "market_place"),
    ("eletronicos", "electronics"),
    ("eletrodomesticos", "home_appliances"),
    ("artigos_de_festas", "party_supplies"),
    ("casa_conforto", "home_confort"),
    ("construcao_ferramentas_ferramentas", "costruction_tools_tools"),
    ("agro_industria_e_comercio", "agro_industry_and_commerce"),
    ("moveis_colchao_e_estofado", "furniture_mattress_and_upholstery"),
    ("livros_tecnicos", "books_technical"),
    ("casa_construcao", "home_construction"),
    ("instrumentos_musicais", "musical_instruments"),
    ("moveis_sala", "furniture_living_room"),
    ("construcao_ferramentas_iluminacao", "construction_tools_lights"),
    ("industria_comercio_e_negocios", "industry_commerce_and_business"),
    ("alimentos", "food"),
    ("artes", "art"),
    ("moveis_quarto", "furniture_bedroom"),
    ("livros_interesse_geral", "books_general_interest"),
    ("construcao_ferramentas_seguranca", "construction_tools_safety"),
    ("fashion_underwear_e_moda_praia", "fashion_underwear_beach"),
    ("fashion_esporte", "fashion_sport"),
    ("sinalizacao_e_seguranca", "signaling_and_security"),
    ("pcs", "computers"),
    ("artigos_de_natal", "christmas_supplies"),
    ("fashion_roupa_feminina", "fashio_female_clothing"),
    ("eletrodomesticos_2", "home_appliances_2"),
    ("livros_importados", "books_imported"),
    ("bebidas", "drinks"),
    ("cine_foto", "cine_photo"),
    ("la_cuisine", "la_cuisine"),
    ("musica", "music"),
    ("casa_conforto_2", "home_comfort_2"),
    ("portateis_casa_forno_e_cafe", "small_appliances_home_oven_and_coffee"),
    ("cds_dvds_musicais", "cds_dvds_musicals"),
    ("dvds_blu_ray", "dvds_blu_ray"),
    ("flores", "flowers"),
    ("artes_e_artesanato", "arts_and_craftmanship"),
    ("fraldas_higiene", "diapers_and_hygiene"),
    ("fashion_roupa_infanto_juvenil", "fashion_childrens_clothes"),
    ("seguros_e_servicos", "security_and_services"),
]

# Categories the products use that the translation file does not have.
UNTRANSLATED_CATEGORIES = ["pc_gamer", "portateis_cozinha_e_preparadores_de_alimentos"]

REVIEW_TITLES = [
    "Recomendo", "Ótimo produto", "Não recebi", "Super recomendo 👍", "Bom",
    "Péssimo", 'Produto "original"?', "Entrega rápida, recomendo",
]

# Review texts; {email}, {phone} and {cpf} are filled per row so redaction has work to do.
REVIEW_MESSAGES = [
    "Produto chegou antes do prazo, muito bom!",
    "Recebi o produto com defeito.\r\nSolicitei a troca e ninguém respondeu.",
    'Veio diferente do anunciado, o "original" era azul, veio verde.',
    "Ótima qualidade, entrega rápida 😍😍",
    "Não recebi ainda, entrem em contato pelo e-mail {email}",
    "Comprei 2 unidades, chegou só 1. Meu telefone: {phone}",
    "Nota fiscal no CPF {cpf}, por favor corrijam.",
    "Muito bom,\nrecomendo a loja.\nAtendimento nota 10!",
    "Péssimo, não comprem; demorou demais, 30 dias!!!",
    "Tudo certo, obrigado 🙏",
    "ligar no {phone} ou escrever para {email}, CPF {cpf}",
    "Produto bom, mas a embalagem veio amassada, \"quase\" quebrou.",
]
